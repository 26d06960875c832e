/** The broker version reported in $SYS and logs; the build replaces it from package.json. */
export const VERSION: string = typeof __MQGATE_VERSION__ === "string" ? __MQGATE_VERSION__ : "0.0.0-dev";

declare const __MQGATE_VERSION__: string | undefined;
