import type { Redis } from 'ioredis';

/** ioredis' message for the commands a disconnect rejects (its CONNECTION_CLOSED_ERROR_MSG). */
const FLUSHED = 'Connection is closed.';

/**
 * Disconnects Redis clients now. ioredis rejects every command still pending on a client it disconnects, and
 * BullMQ leaves some of its own unawaited when Redis is gone or a close is still under way (seen: a loaded
 * coordinator closing after it lost Redis). Node ends the process on an unhandled rejection, with a stack trace
 * after the one line the user was owed. While the clients go, those rejections are dropped; any other rejection
 * is left as it was: passed to the other listeners, or, with none, raised as Node would.
 */
export async function disconnectAll(clients: readonly Redis[]): Promise<void> {
  const listener = (reason: unknown) => {
    if (reason instanceof Error && reason.message === FLUSHED) return;
    if (process.listenerCount('unhandledRejection') === 1) throw reason;
  };
  process.on('unhandledRejection', listener);
  try {
    for (const c of clients) c.disconnect();
    // the rejected commands' promises are reported unhandled once the microtasks have run
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', listener);
  }
}
