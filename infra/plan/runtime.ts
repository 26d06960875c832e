/**
 * The Node.js every deployed part runs on. Node.js 20 reached its end of life in April 2026; 24 is the current
 * LTS line (supported until April 2028). The broker image (infra/broker.Dockerfile, `FROM node:24-…`) and the
 * Lambda functions (`nodejs24.x`) use the same major version; a test keeps the Dockerfile in step. The code is
 * bundled for node20 (scripts/build.mjs) and still tested on Node 20, so both runtimes run it unchanged.
 */
export const NODE_MAJOR = 24;

/** Lambda runtime identifier of NODE_MAJOR. */
export const LAMBDA_RUNTIME = `nodejs${NODE_MAJOR}.x` as const;

/**
 * Graviton (arm64) for Fargate tasks and Lambda functions: about 20 % cheaper than x86_64 for the same size.
 * Everything mqgate ships is JavaScript (no native add-ons) plus Debian's jemalloc for the image's architecture
 * (decision 059). The Dockerfile's stages that run commands (the build, and fetching jemalloc's package) run on the
 * build machine's own platform, so building the arm64 image on an x86 laptop needs no emulation.
 */
export const ARCHITECTURE = "arm64" as const;
