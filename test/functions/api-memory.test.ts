import { MemoryStore } from "../../core/store/memory.js";
import { apiSuite } from "./api.suite.js";

apiSuite("the memory store", async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
