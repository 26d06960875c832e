import { getSystemErrorName } from "node:util";

/**
 * Node's stream binding (`process.binding("stream_wrap")`, as `net` uses it internally): the request objects a
 * handle's writes and shutdowns take, and the shared state a handle's read and write calls report through. Looked
 * up once and checked; null when this runtime lacks any part, and the broker then uses Node's sockets as they are
 * (decisions 035, 039 and 053: slower, never wrong).
 */
export interface StreamReq {
  oncomplete: ((this: StreamReq, status: number) => void) | null;
}

export interface StreamWrapBinding {
  WriteWrap: new () => StreamReq;
  ShutdownWrap: new () => StreamReq;
  /** An Int32Array: `[kReadBytesOrError]` is the byte count (or libuv error) of the read being reported. */
  streamBaseState: { readonly [i: number]: number };
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

let binding: StreamWrapBinding | null | undefined;

export function streamWrap(): StreamWrapBinding | null {
  if (binding !== undefined) return binding;
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding("stream_wrap");
    const complete =
      typeof b.WriteWrap === "function" &&
      typeof b.ShutdownWrap === "function" &&
      typeof b.kLastWriteWasAsync === "number" &&
      typeof b.kReadBytesOrError === "number" &&
      b.streamBaseState !== undefined;
    binding = complete ? (b as StreamWrapBinding) : null;
  } catch {
    binding = null;
  }
  return binding;
}

/** libuv's end of stream, as a read reports it. */
export const UV_EOF = -4095;

/** The error `net` raises for a failed system call (`write EPIPE`, `read ECONNRESET`), with code, errno and syscall. */
export function uvError(status: number, syscall: string): Error {
  let code: string;
  try {
    code = getSystemErrorName(status);
  } catch {
    code = `Unknown system error ${status}`;
  }
  return Object.assign(new Error(`${syscall} ${code}`), { errno: status, code, syscall });
}
