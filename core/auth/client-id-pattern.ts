/**
 * A user's client-id pattern (users in the store): exact text, `*` = any run of characters (also none), `%u` =
 * the user name. Matching is linear in the pattern and the client id (no regular expressions, no backtracking).
 */
export function clientIdMatches(pattern: string, clientId: string, username: string): boolean {
  const parts = pattern.split("%u").join(username).split("*");
  if (parts.length === 1) return parts[0] === clientId;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (first.length + last.length > clientId.length || !clientId.startsWith(first) || !clientId.endsWith(last)) return false;
  let at = first.length;
  const end = clientId.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = clientId.indexOf(parts[i]!, at);
    if (found < 0 || found + parts[i]!.length > end) return false;
    at = found + parts[i]!.length;
  }
  return true;
}
