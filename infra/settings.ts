/** The deployment settings of this `sst deploy`, from MQGATE_DEPLOY_* (docs/deploy.md). */
import { deploySettings } from "./plan/settings.js";

export const settings = deploySettings(process.env);
