import type { IConnectPacket, IPublishPacket } from "mqtt-packet";
import { expect } from "vitest";
import { hashPassword } from "../../core/auth/index.js";
import type { Store } from "../../core/store/types.js";
import { RawClient } from "../helpers/raw-client.js";
import { until } from "../helpers/wait.js";

/** Fast scrypt parameters for test users (the hash format is the real one). */
const FAST = { N: 1024, r: 8, p: 1 } as const;

export const PASSWORDS = { alice: "alice-pw", eve: "eve-pw", publisher: "pub-pw" } as const;
export type User = keyof typeof PASSWORDS;

/** An ACL document: alice reads secrets/# and public/#, eve only public/#, publisher writes anywhere. */
export async function aclDoc(aliceSubscribe: unknown[] = ["secrets/#", "public/#"]): Promise<unknown> {
  const users = await Promise.all((Object.keys(PASSWORDS) as User[]).map(async (username) => ({ username, password: await hashPassword(PASSWORDS[username], FAST) })));
  return {
    anonymous: true,
    users,
    rules: [
      { users: ["alice"], allow: { subscribe: aliceSubscribe } },
      { users: ["eve"], allow: { subscribe: ["public/#"] } },
      { users: ["publisher"], allow: { publish: ["#"] } },
      { users: ["$anonymous"], allow: { subscribe: ["public/#"] } },
    ],
  };
}

/** CONNECT as `user` (null = anonymous); returns the client and its CONNACK, accepted or not. */
export async function connectAs(port: number, user: User | null, fields: Partial<IConnectPacket>): Promise<[RawClient, { returnCode: number; sessionPresent: boolean }]> {
  const c = await RawClient.open(port);
  const creds = user === null ? {} : { username: user, password: Buffer.from(PASSWORDS[user]) };
  const connack = await c.connect({ ...creds, ...fields });
  return [c, { returnCode: connack.returnCode ?? -1, sessionPresent: connack.sessionPresent }];
}

export async function publish1(port: number, topic: string, payload: string): Promise<void> {
  const [p, ack] = await connectAs(port, "publisher", {});
  expect(ack.returnCode).toBe(0);
  p.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, messageId: 1, retain: false, dup: false });
  await p.expect("puback");
  p.destroy();
}

export function text(p: IPublishPacket): string {
  return Buffer.from(p.payload).toString();
}

/** Disconnects cleanly and waits until the store shows the session offline. */
export async function leave(c: RawClient, store: Store, clientId: string): Promise<void> {
  c.send({ cmd: "disconnect" });
  await c.waitClosed();
  await until(async () => (await store.getSession(clientId))?.node === null, `${clientId} offline in the store`);
}

export { until };
