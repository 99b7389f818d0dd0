/*
 * shard_map's allocation interface: feed shard allocations (Casty's
 * ShardAllocation: shard -> owning node, replicas, epoch) into a running
 * router, compute an entity's shard, and tell it whom to ask when a shard
 * has no known owner (Casty's GetShardLocation).
 *
 *   const sy_shard_map_allocations *a; void *inst;
 *   sy_router_get_interface(router, "shard_map", SY_SHARD_MAP_ALLOCATIONS,
 *                           SY_SHARD_MAP_ALLOCATIONS_VERSION, (const void **)&a, &inst, &err);
 *
 * Misses: a plan for a shard with no usable owner (none known yet, or its
 * node was evicted) asks the locator, if one is set, and returns
 * SY_EPENDING with err->retry_after_ms (sy_plan_init_async waits for the
 * answer instead); without a locator it is SY_ENOROUTE. Each shard is asked
 * at most once per locate.answer_timeout_ms; unanswered asks back off
 * exponentially (locate.backoff_ms up to locate.backoff_max_ms, with
 * jitter). At most locate.max_locating shards are asked at once (SY_ELIMIT
 * beyond).
 *
 * Eviction: a connect failure reported for a node (timeout, refused, reset,
 * resolution) evicts it for locate.evict_ms, and a node the topology marks
 * down ("up": false) is evicted while it stays down. Its shards miss, and
 * each is scheduled for a re-locate after a jittered backoff; replicas on
 * it are left out of plans. An answer naming an evicted node does not end
 * the eviction (the ask is retried with backoff), a success reported for the
 * node does.
 */
#ifndef SWITCHYARD_SHARD_MAP_H
#define SWITCHYARD_SHARD_MAP_H

#include <switchyard/switchyard.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_SHARD_MAP_ALLOCATIONS "shard_map.allocations"
#define SY_SHARD_MAP_ALLOCATIONS_VERSION 2

/* Asks the host where a shard lives. Called from a planning thread (or the
 * I/O thread retrying a waiting plan), never twice at once: it must not
 * block. Start the look-up and return SY_OK; give the answer with apply(),
 * from any thread, even from within this call. A negative return counts as
 * an unanswered ask. It must not call set_locator. */
typedef int (*sy_shard_locate_fn)(const char *type, uint32_t shard, void *user_data);

typedef struct sy_shard_locator {
    uint32_t struct_size;
    sy_shard_locate_fn locate;
    void *user_data;
    sy_destroy_fn destroy; /* on user_data when replaced, or when the instance goes */
} sy_shard_locator;

typedef struct sy_shard_map_allocations {
    uint32_t struct_size;
    uint32_t version;
    /* {"allocations": [{"type", "shard", "node", "replicas": [...], "epoch"}]}:
     * each replaces its shard's allocation unless the shard already has one
     * of a newer epoch (older snapshots are ignored). Publishes a new
     * snapshot: plans see the answer at once, waiting plans are retried. */
    int (*apply)(void *instance, const char *json, size_t len, sy_error *err);
    /* The shard of an entity, as Casty computes it: the first 4 bytes of the
     * MD5 of its UTF-8 id, big-endian, modulo the type's num_shards. */
    int (*shard_of)(void *instance, const char *type, const char *id, uint32_t *shard, sy_error *err);
    /* Version 2. Sets (or with NULL removes) the locator; the previous one's
     * destroy runs before this returns, unless an instance a reload
     * replaced still shares it: then when that instance goes. A reload that
     * replaces the shard_map instance (its config changed) carries the
     * locator over, with the allocations of the types whose shard count is
     * unchanged and the evictions (core 0.3); fetch the interface again
     * for the new instance: set_locator and apply on the old one no longer
     * reach plans. */
    int (*set_locator)(void *instance, const sy_shard_locator *locator, sy_error *err);
} sy_shard_map_allocations;

#ifdef __cplusplus
}
#endif
#endif
