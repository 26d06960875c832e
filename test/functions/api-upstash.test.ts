import { useRedisStores } from "../helpers/redis-stores.js";
import { apiSuite } from "./api.suite.js";

const upstash = useRedisStores({ upstash: true });

apiSuite("Redis over Upstash REST (@upstash/redis)", upstash.factory);
