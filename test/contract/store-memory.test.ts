import { MemoryStore } from "../../core/store/memory.js";
import { storeContract } from "./store.suite.js";

storeContract("memory", async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
