import { isIP } from 'node:net';
import { InputError } from '../errors.js';

/** Where the queues live: a Redis server, from a `redis://` or `rediss://` (TLS) URL. */
export interface RedisTarget {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
  /** The URL with the password masked: what messages show. */
  display: string;
}

/**
 * Parses `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS, verified against the system CAs and
 * NODE_EXTRA_CA_CERTS). The password may also come from INFEROPT_REDIS_PASSWORD, so that it does not show in
 * the process list. Anything else is refused with one line.
 */
export function parseRedisUrl(text: string, env: Record<string, string | undefined> = process.env): RedisTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InputError(`bad Redis URL '${mask(text)}': expected redis://[user:password@]host[:port][/db] or rediss:// for TLS`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InputError(`bad Redis URL '${mask(text)}': the scheme must be redis:// or rediss:// (TLS), not ${u.protocol}//`);
  if (!u.hostname) throw new InputError(`bad Redis URL '${mask(text)}': no host`);
  if (u.search || u.hash) throw new InputError(`bad Redis URL '${mask(text)}': options after ? or # are not supported`);
  const port = u.port ? Number(u.port) : 6379;
  const dbText = u.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw new InputError(`bad Redis URL '${mask(text)}': the path must be a database number (0-15)`);
  const db = dbText === '' ? 0 : Number(dbText);
  const password = u.password ? decodeURIComponent(u.password) : env.INFEROPT_REDIS_PASSWORD || undefined;
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const tls = u.protocol === 'rediss:';
  const display = `${u.protocol}//${username ? `${username}${password ? ':***' : ''}@` : password ? ':***@' : ''}${u.host}${db ? `/${db}` : ''}`;
  return { host, port, tls, ...(username ? { username } : {}), ...(password ? { password } : {}), db, display };
}

/** The URL as it may be shown: a password in it replaced by ***. */
export function mask(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** ioredis options for the target (BullMQ's workers need `maxRetriesPerRequest: null`). */
export function connectionOptions(t: RedisTarget, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    ...(t.username ? { username: t.username } : {}),
    ...(t.password ? { password: t.password } : {}),
    // SNI names a host, never an address (Node warns on an IP): an address is checked against the certificate's IP entries
    ...(t.tls ? { tls: isIP(t.host) ? {} : { servername: t.host } } : {}),
    maxRetriesPerRequest: null,
    ...extra,
  };
}
