import { BlockList, isIP } from "node:net";

/** Parsers shared by the condition operators. Each returns undefined for a value of the wrong kind. */

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
export function parseNumber(value: string): number | undefined {
  if (!NUMBER.test(value.trim())) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
/** ISO 8601 date or date-time to epoch milliseconds; a date-time without offset is UTC. */
export function parseInstant(value: string): number | undefined {
  const m = ISO_8601.exec(value.trim());
  if (!m) return undefined;
  const [, date, time, zone] = m;
  if (!time) return finite(Date.parse(`${date}T00:00:00Z`));
  let offset = "Z";
  if (zone && zone.toUpperCase() !== "Z") {
    const sign = zone[0];
    const digits = zone.slice(1).replace(":", "");
    offset = `${sign}${digits.slice(0, 2)}:${digits.slice(2, 4) || "00"}`;
  }
  const ms = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}${offset}`);
  return finite(ms);
}

function finite(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}

export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === "true") return true;
  if (v === "false") return false;
  return undefined;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
/** A bare address as [address, family]; IPv4-mapped IPv6 counts as IPv4. */
export function parseAddress(value: string): [string, "ipv4" | "ipv6"] | undefined {
  const v = value.trim();
  const mapped = MAPPED_V4.exec(v);
  if (mapped) return [mapped[1]!, "ipv4"];
  const family = isIP(v);
  if (family === 4) return [v, "ipv4"];
  if (family === 6) return [v, "ipv6"];
  return undefined;
}

/** `10.0.0.0/8`, `2001:db8::/32` or a bare address, added to a BlockList; false if malformed. */
export function addNetwork(list: BlockList, cidr: string): boolean {
  const [addr, prefixText, ...rest] = cidr.trim().split("/");
  if (rest.length > 0 || addr === undefined) return false;
  const parsed = parseAddress(addr);
  if (!parsed) return false;
  const [address, family] = parsed;
  const max = family === "ipv4" ? 32 : 128;
  if (prefixText === undefined) {
    list.addAddress(address, family);
    return true;
  }
  if (!/^\d{1,3}$/.test(prefixText)) return false;
  const prefix = Number(prefixText);
  if (prefix > max) return false;
  list.addSubnet(address, prefix, family);
  return true;
}
