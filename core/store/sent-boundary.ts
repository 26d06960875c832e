/**
 * The sent boundary (docs/store.md, "The sent boundary"; decision 021). A session sends its stored messages in seq
 * order, so one number per session, "sent up to seq S" (`outgoing.sent`), says which of them are in flight: every
 * entry at or below S, and any entry written with an explicit packet id. An entry the boundary covers has no packet
 * id of its own: it is this function of its seq, so the store writes nothing per message when it is sent.
 *
 * seq 1 → 1, …, 65,535 → 65,535, 65,536 → 1 again: a session must not send a message while an earlier one holding
 * the same id is still unacknowledged ([MQTT-2.3.1-4]); the broker's window waits for it (broker/session-outbox.ts).
 */
export function sentPacketId(seq: number): number {
  return ((seq - 1) % 65_535) + 1;
}
