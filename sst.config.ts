// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- SST's generated global types
/// <reference path="./.sst/platform/config.d.ts" />

// mqgate on AWS: broker containers behind a network load balancer, the REST API on Lambda, SQS, Redis (Upstash).
// The parts live in infra/; docs/deploy.md is the operator's guide. The brokers' and functions' own configuration
// (typed, any key of docs/configuration.md) is the `config` object in infra/config.ts.
export default $config({
  app(input) {
    return {
      name: "mqgate",
      home: "aws",
      // The cluster's state lives in Redis (Upstash), outside the stage: `sst remove` deletes everything it
      // created. On prod it refuses until `protect` is turned off on purpose (docs/deploy.md, "Removing").
      removal: "remove",
      protect: input?.stage === "prod",
    };
  },
  async run() {
    await import("./infra/network.js");
    await import("./infra/store.js");
    await import("./infra/queues.js");
    await import("./infra/broker.js");
    await import("./infra/api.js");
    await import("./infra/monitoring.js");
    const { outputs } = await import("./infra/outputs.js");
    return outputs;
  },
});
