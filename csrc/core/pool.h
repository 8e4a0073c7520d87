// dlcore's tile pool: parallel loops that survive a busy machine (issue 17).
// Implemented in threads.cpp beside the thread count it reads.
#pragma once
#include <cstdint>
#include <functional>

namespace dlcore {

// Runs body(i) once for every i in [0, tiles) on up to nt threads (the
// caller included), tiles handed out one at a time from an atomic counter.
//
// Why not an OpenMP region: OpenMP joins every thread of the team at the end
// of a region, so on a busy machine a worker the OS has descheduled (or not
// yet woken) holds up the whole call for a scheduler time slice (ms). Here
// the caller waits only for tiles some thread has *claimed*: a worker that
// wakes late finds the counter exhausted and never touches the call. A
// descheduled thread therefore delays at most the one tile it holds.
//
// Wait policy: idle workers poll for new work for kPoolSpinMicros (yielding
// the core each poll, so a runnable process on the same core goes first) and
// then sleep on a condition variable; the caller waits for claimed tiles
// with yield, never a pure busy spin.
//
// Runs serially (in order) when nt <= 1, when called from inside a pool
// tile or an OpenMP region (no nesting), or when another thread is using
// the pool. body must not throw past a tile: an exception in a tile is
// caught and rethrown on the caller after all claimed tiles finished.
// Which thread runs a tile must not change its result; kernels keep
// results bitwise independent of the thread count by computing each output
// tile on one thread in a fixed order.
void parallel_tiles(int64_t tiles, int nt, const std::function<void(int64_t)>& body);

// Microseconds an idle pool worker keeps polling before it sleeps
// (DLCORE_POOL_SPIN_US overrides; read once).
int pool_spin_micros();

// Calls so far that handed tiles to the workers (ran in parallel), counted
// in every process; a test hook shows which kernels run on the pool.
int64_t pool_parallel_calls();

// Moves the calling thread off `cpu` if it runs there and its affinity mask
// allows another CPU, then restores its mask (what a pool worker does when
// it joins a call on its caller's CPU; see threads.cpp). No-op elsewhere.
void leave_cpu(int cpu);
}  // namespace dlcore
