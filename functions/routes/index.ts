import type { Route } from "../route.js";
import { clientDeleteRoute } from "./client-delete.js";
import { clientGetRoute } from "./client-get.js";
import { clientsListRoute } from "./clients-list.js";
import { healthRoute } from "./health.js";
import { nodesRoute } from "./nodes.js";
import { openApiRoute } from "./openapi.js";
import { publishBatchRoute } from "./publish-batch.js";
import { publishRawRoute } from "./publish-raw.js";
import { publishRoute } from "./publish.js";
import { retainedDeleteRoute } from "./retained-delete.js";
import { retainedGetRoute } from "./retained-get.js";
import { retainedListRoute } from "./retained-list.js";
import { roleDeleteRoute, roleGetRoute, rolePutRoute, rolesListRoute } from "./roles.js";
import { statsRoute } from "./stats.js";
import { subscriptionDeleteRoute } from "./subscription-delete.js";
import { subscriptionsAddRoute } from "./subscriptions-add.js";
import { subscriptionsListRoute } from "./subscriptions-list.js";
import { userCreateRoute, userDeleteRoute, userGetRoute, usersListRoute, userUpdateRoute } from "./users.js";

/** The REST API (DESIGN §3.3), in documentation order. One file per route. */
export const routes: readonly Route[] = [
  publishRoute,
  publishBatchRoute,
  publishRawRoute,
  clientsListRoute,
  clientGetRoute,
  clientDeleteRoute,
  subscriptionsListRoute,
  subscriptionsAddRoute,
  subscriptionDeleteRoute,
  retainedListRoute,
  retainedGetRoute,
  retainedDeleteRoute,
  nodesRoute,
  statsRoute,
  userCreateRoute,
  usersListRoute,
  userGetRoute,
  userUpdateRoute,
  userDeleteRoute,
  rolesListRoute,
  roleGetRoute,
  rolePutRoute,
  roleDeleteRoute,
  healthRoute,
  openApiRoute,
];
