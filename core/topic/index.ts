export * from "./types.js";
export * from "./validate.js";
export * from "./match.js";
export * from "./trie.js";
export * from "./index-tree.js";
export * from "./covers.js";
