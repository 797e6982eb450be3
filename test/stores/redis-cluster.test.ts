import { serviceUrl } from "../helpers/services.js";
import { redisConformanceSuite } from "./redis-support.js";

// scripts/redis-cluster.sh starts a local three-node cluster for this file.
const url = serviceUrl("ONCELY_TEST_REDIS_CLUSTER_URL", "Redis Cluster store");

if (url) redisConformanceSuite("RedisStore on Redis Cluster", url);
