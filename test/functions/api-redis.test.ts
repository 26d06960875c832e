import { useRedisStores } from "../helpers/redis-stores.js";
import { apiSuite } from "./api.suite.js";

const redis = useRedisStores();

apiSuite("Redis (ioredis over TCP)", redis.factory);
