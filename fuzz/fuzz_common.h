/*
 * What the switchyard fuzz harnesses share: a counting allocator with
 * allocation-failure injection, static registration of the in-tree plugins,
 * and the invariant checks every harness applies to errors and plans.
 *
 * A harness calls, per input:
 *   syf_begin(data, size);   the failure schedule comes from a hash of the input
 *   ... create objects with syf_options() (injection off) ...
 *   syf_arm(1); call the parser under test; syf_arm(0);
 *   ... plan with syf_plan(), free everything ...
 *   syf_end();               aborts unless every allocation was freed
 *
 * Any broken invariant prints what broke and aborts, so libFuzzer and the
 * corpus replay both report it as a crash.
 */
#ifndef SY_FUZZ_COMMON_H
#define SY_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <switchyard/plugin.h>

/* Inputs above this are skipped: the parsers are linear and larger inputs
 * only slow the fuzzer down. Keep it equal to -max_len in run-libfuzzer.sh. */
#define SYF_MAX_INPUT (64 * 1024)

/* Registers the statically linked plugins (once per process). */
void syf_init(void);

/* Router options whose allocator is the counting allocator. */
const sy_router_options *syf_options(void);

/* Starts an input: resets the failure schedule from a hash of the input.
 * Injection starts disarmed. Returns 1 when the schedule fails allocations
 * (then the harness runs the input twice: once without failures, as the
 * reference, and once with them), 0 otherwise. */
int syf_begin(const uint8_t *data, size_t size);
/* Arms (1) or disarms (0) failure injection. Arming restarts the schedule,
 * so each armed call sees its own first, second, ... allocation. */
void syf_arm(int on);
/* Allocations that failed by injection since syf_begin(). */
unsigned long syf_injected(void);
/* Allocations served so far since syf_begin() (counts only successes). */
unsigned long syf_alloc_count(void);
/* Every allocation made so far was freed; aborts otherwise. Call it after
 * each run of an input. */
void syf_end(void);

/* Checks a call made with failures injected against the same call made
 * without (the reference): an injected failure must either not change the
 * outcome (same status, same error path and message) or be reported as
 * SY_ENOMEM; with no failure injected the outcome must be the same.
 * injected: allocation failures injected during the call. */
void syf_check_outcome(const char *what, int ref_rc, const sy_error *ref, int rc,
                       const sy_error *err, unsigned long injected);

/* A 64-bit FNV-1a hash (used to pick schedules and fixtures). */
uint64_t syf_hash(const uint8_t *data, size_t size);

/* With SY_FUZZ_VERBOSE=1 in the environment, prints a line to stderr (what
 * each call returned), for triage; otherwise does nothing. */
void syf_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "switchyard fuzz invariant: <what>" and aborts. */
void syf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Checks a failed call: rc is a known negative status, err carries the same
 * code, a non-empty NUL-terminated message and a NUL-terminated path.
 * SY_ENOMEM is only accepted when an allocation failure was injected. */
void syf_check_error(const char *what, int rc, const sy_error *err);

/* Plans req on router and walks the whole plan, checking every target.
 * Planning must not allocate. Returns the number of targets, or the
 * (checked) negative status of sy_plan_init / sy_plan_next. */
int syf_plan(sy_router *router, const sy_request *req);

#endif
