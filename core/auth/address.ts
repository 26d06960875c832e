/**
 * The key under which per-address limits and authentication fairness count a client: its IP address, with
 * an IPv4-mapped IPv6 address read as IPv4, and an IPv6 address cut to its /64 prefix (one subscriber usually
 * holds a whole /64, so counting single IPv6 addresses would let one host look like 2^64 clients).
 */
import { isIPv4, isIPv6 } from "node:net";

/** `remote` is "ip:port" (as Connection.remoteAddress) or a bare IP. */
export function addressKey(remote: string): string {
  let ip = remote;
  if (!isIPv4(ip) && !isIPv6(ip)) {
    const colon = remote.lastIndexOf(":");
    if (colon > 0) ip = remote.slice(0, colon);
  }
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  const lower = ip.toLowerCase();
  if (lower.startsWith("::ffff:") && isIPv4(lower.slice(7))) return lower.slice(7);
  if (!isIPv6(lower)) return lower;
  return `${ipv6Prefix64(lower)}::/64`;
}

/** The first four groups of an IPv6 address, e.g. "2001:db8:0:1". */
function ipv6Prefix64(ip: string): string {
  const zone = ip.indexOf("%");
  const bare = zone >= 0 ? ip.slice(0, zone) : ip;
  const [head = "", tail] = bare.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail counts as two groups; only the first four groups matter here.
  const missing = 8 - left.length - right.length;
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, missing)).fill("0"), ...right];
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":");
}
