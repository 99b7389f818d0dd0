/*
 * shard_map's allocation interface: feed shard allocations (Casty's
 * ShardAllocation: shard -> owning node, replicas, epoch) into a running
 * router, and compute an entity's shard.
 *
 *   const sy_shard_map_allocations *a; void *inst;
 *   sy_router_get_interface(router, "shard_map", SY_SHARD_MAP_ALLOCATIONS,
 *                           SY_SHARD_MAP_ALLOCATIONS_VERSION, (const void **)&a, &inst, &err);
 */
#ifndef SWITCHYARD_SHARD_MAP_H
#define SWITCHYARD_SHARD_MAP_H

#include <switchyard/switchyard.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SY_SHARD_MAP_ALLOCATIONS "shard_map.allocations"
#define SY_SHARD_MAP_ALLOCATIONS_VERSION 1

typedef struct sy_shard_map_allocations {
    uint32_t struct_size;
    uint32_t version;
    /* {"allocations": [{"type", "shard", "node", "replicas": [...], "epoch"}]}:
     * each replaces its shard's allocation unless the shard already has one
     * of a newer epoch (older snapshots are ignored). Publishes a new
     * snapshot, which also clears evictions. */
    int (*apply)(void *instance, const char *json, size_t len, sy_error *err);
    /* The shard of an entity, as Casty computes it: the first 4 bytes of the
     * MD5 of its UTF-8 id, big-endian, modulo the type's num_shards. */
    int (*shard_of)(void *instance, const char *type, const char *id, uint32_t *shard, sy_error *err);
} sy_shard_map_allocations;

#ifdef __cplusplus
}
#endif
#endif
