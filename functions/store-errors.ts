import { InvalidStoreInput } from "../core/store/errors.js";
import { ValidationError } from "./errors.js";

/** Runs a store call whose only caller-supplied input is `parameter` (a cursor): the store's refusal is a 400 on it. */
export async function storeCall<T>(call: () => Promise<T>, parameter: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof InvalidStoreInput) throw new ValidationError([{ parameter, detail: err.message }]);
    throw err;
  }
}
