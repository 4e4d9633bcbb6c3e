/*
 * rnn-deno native kernels: a packed, register-blocked float32 GEMM and whole
 * recurrent sequences (forward and backward, all T steps in one call) for the
 * "native" tfjs backend. C11 with GNU vector extensions; libc, libm and
 * pthreads only. Compiled on first use by lib/native/build.ts.
 *
 * Conventions: row-major matrices; sequences are step-major `[T*B, W]` (rows
 * t*B .. t*B+B-1 are step t); gate blocks of `[*, G*H]` are H columns each.
 * Every result is computed by one thread in a fixed order, so results do not
 * depend on the thread count, nor on which thread computes what (no shared
 * reductions).
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MR 8  /* rows of the micro-kernel */
#define NR 32 /* columns of the micro-kernel: two 16-float vectors */
#define KC 256
#define MAXT 64

typedef float v16 __attribute__((vector_size(64)));

/* Unaligned 16-float vector load and store. */
static inline v16 ldv(const float *p) {
  v16 v;
  memcpy(&v, p, 64);
  return v;
}
static inline void stv(float *p, v16 v) { memcpy(p, &v, 64); }

/* Whether a table id (a float) names a row of a table of V rows (else: the zero row). */
static inline int in_table(float id, int V) { return id >= 0.0f && id < (float)V; }

/* ---------------------------------------------------------------- threads */

typedef void (*task_fn)(void *ctx, int part, int parts);

static int n_threads = 1;
static pthread_t workers[MAXT];
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
/* One run (or resize) at a time: Deno may call in from several threads (one per
 * isolate, e.g. test modules), and they share this library's pool. */
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static task_fn job_fn;
static void *job_ctx;
/*
 * The current job's ticket: (generation << 32) | (parts << 16) | the next part
 * to claim. Threads claim parts with one fetch-and-add (see run_claimed), so
 * a thread that starts late (its core busy with another process) finds its
 * part already taken instead of holding every other thread at the job's end.
 */
static _Atomic uint64_t job_ticket;
static _Atomic int job_done; /* parts of the current job finished */
static _Atomic int pool_quit;
static uint64_t start_gen; /* the generation a new worker has already seen */

/*
 * How long a thread spins on the next job (or on the workers' finish) before
 * it sleeps on a condition variable: a sequence hands out one job a step,
 * tens of microseconds apart, and a sleep and wake-up costs about as much as
 * a step's share of work. Between calls (JavaScript's turn) the workers sleep.
 */
#define SPINS 4000
/*
 * Spins past this many pause instead yield the core: on a machine busier than
 * its cores, the thread waited on may be the one descheduled, and a core
 * spinning on pause keeps it off (2 threads on 2 busy cores ran 4x slower).
 * With nothing else to run, a yield returns at once.
 */
#define PAUSE_SPINS 2000

/* One round of waiting for another thread: a pause, or (after PAUSE_SPINS) a yield. */
static inline void cpu_relax(int spins) {
  if (spins >= PAUSE_SPINS) {
    sched_yield();
    return;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static uint64_t ticket_gen(uint64_t ticket) { return ticket >> 32; }

/* Runs one part of the current job; the thread that finishes its last part wakes the caller. */
static void run_part(int part, int parts) {
  job_fn(job_ctx, part, parts);
  if (atomic_fetch_add_explicit(&job_done, 1, memory_order_acq_rel) == parts - 1) {
    pthread_mutex_lock(&pool_mu);
    pthread_cond_signal(&pool_done);
    pthread_mutex_unlock(&pool_mu);
  }
}

/*
 * Claims and runs parts of the current job until none is left; returns the
 * generation of the job it last claimed from. The job cannot change under a
 * claimed part: run_parts returns only once every part is done.
 */
static uint64_t run_claimed(void) {
  for (;;) {
    uint64_t ticket = atomic_fetch_add_explicit(&job_ticket, 1, memory_order_acq_rel);
    int part = (int)(ticket & 0xffff), parts = (int)((ticket >> 16) & 0xffff);
    if (part >= parts) return ticket_gen(ticket);
    run_part(part, parts);
  }
}

/* Whether a worker that last saw generation `seen` has nothing new to do. */
static int idle(uint64_t seen) {
  return ticket_gen(atomic_load_explicit(&job_ticket, memory_order_acquire)) == seen &&
         !atomic_load(&pool_quit);
}

static void *worker_main(void *arg) {
  (void)arg;
  uint64_t seen = start_gen;
  for (;;) {
    for (int spins = 0; idle(seen) && spins < SPINS; spins++) cpu_relax(spins);
    if (idle(seen)) {
      pthread_mutex_lock(&pool_mu);
      while (idle(seen)) pthread_cond_wait(&pool_go, &pool_mu);
      pthread_mutex_unlock(&pool_mu);
    }
    if (atomic_load(&pool_quit)) break;
    seen = run_claimed();
  }
  return NULL;
}

/* Runs fn(ctx, part, parts) for every part of n_threads, each by whichever thread claims it. */
static void run_parts(task_fn fn, void *ctx) {
  pthread_mutex_lock(&run_mu);
  if (n_threads == 1) {
    fn(ctx, 0, 1);
    pthread_mutex_unlock(&run_mu);
    return;
  }
  int parts = n_threads;
  pthread_mutex_lock(&pool_mu);
  job_fn = fn;
  job_ctx = ctx;
  atomic_store(&job_done, 0);
  /* The caller's part 0 is not claimed: with 2 threads each then keeps its part from job to job
   * (a units split's share of the weights stays in its core's cache) unless the worker is late. */
  uint64_t gen = ticket_gen(atomic_load(&job_ticket)) + 1;
  atomic_store_explicit(&job_ticket, gen << 32 | (uint64_t)parts << 16 | 1, memory_order_release);
  pthread_cond_broadcast(&pool_go);
  pthread_mutex_unlock(&pool_mu);
  run_part(0, parts);
  run_claimed();
  for (int spins = 0; atomic_load(&job_done) < parts && spins < SPINS; spins++) cpu_relax(spins);
  if (atomic_load(&job_done) < parts) {
    pthread_mutex_lock(&pool_mu);
    while (atomic_load(&job_done) < parts) pthread_cond_wait(&pool_done, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
  }
  pthread_mutex_unlock(&run_mu);
}

/* ------------------------------------------------------ balanced splits */

/* Part `part`'s share of a job: items [lo, hi) (panels, row blocks, runs of columns). */
typedef void (*range_fn)(void *ctx, int part, int lo, int hi);

/*
 * The relative speed of each part on one kind of job, learnt from their
 * timings. A machine's cores need not run alike: on a 2-core VM the second ran
 * the LSTM's forward steps 5-25% slower than the first (5% on pure arithmetic:
 * the rest is its caches), and an even split waits on the slower every step.
 * So each job's items are split in proportion to these speeds. Which part
 * computes an item never changes its value: results stay the same to the bit.
 */
typedef struct {
  double speed[MAXT]; /* relative (they average about 1); 0 before any timing */
} balance;

static balance balance_forward, balance_backward, balance_gemm, balance_sums;
static pthread_mutex_t balance_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
  range_fn fn;
  void *ctx;
  int cut[MAXT + 1]; /* part p does items [cut[p], cut[p + 1]) */
  double busy[MAXT]; /* seconds each part took */
} balanced_job;

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void balanced_part(void *ctx, int part, int parts) {
  (void)parts;
  balanced_job *j = ctx;
  double t0 = seconds();
  if (j->cut[part] < j->cut[part + 1]) j->fn(j->ctx, part, j->cut[part], j->cut[part + 1]);
  j->busy[part] = seconds() - t0;
}

/*
 * Parts shorter than this are not timed into the speeds: a clock read costs
 * tens of nanoseconds, and a short part's time is mostly its wake-up.
 */
#define BALANCE_MIN_SECONDS 5e-6
/* The weight of a new timing in the moving average. */
#define BALANCE_RATE 0.2
/* No part gets less than this fraction of an even share (a core busy with another process for a
 * moment must not lose its work for long). */
#define BALANCE_FLOOR 0.5

/* Learns from a job's timings: each part's items per second, relative to their mean. */
static void balance_learn(balance *b, const balanced_job *j, int parts) {
  double rate[MAXT], mean = 0;
  for (int p = 0; p < parts; p++) {
    int items = j->cut[p + 1] - j->cut[p];
    if (items == 0 || j->busy[p] < BALANCE_MIN_SECONDS) return;
    rate[p] = items / j->busy[p];
    mean += rate[p] / parts;
  }
  pthread_mutex_lock(&balance_mu);
  for (int p = 0; p < parts; p++) {
    double r = rate[p] / mean;
    b->speed[p] = b->speed[p] > 0 ? (1 - BALANCE_RATE) * b->speed[p] + BALANCE_RATE * r : r;
  }
  pthread_mutex_unlock(&balance_mu);
}

/* Runs fn over items [0, n), split among the parts in proportion to their speeds on b's jobs. */
static void run_balanced(balance *b, int n, range_fn fn, void *ctx) {
  int parts = n_threads;
  balanced_job j = {.fn = fn, .ctx = ctx};
  double w[MAXT], total = 0;
  pthread_mutex_lock(&balance_mu);
  for (int p = 0; p < parts; p++) {
    w[p] = b->speed[p] > BALANCE_FLOOR ? b->speed[p] : b->speed[p] > 0 ? BALANCE_FLOOR : 1;
    total += w[p];
  }
  pthread_mutex_unlock(&balance_mu);
  double sum = 0;
  for (int p = 0; p < parts; p++) {
    j.cut[p] = (int)(n * sum / total + 0.5);
    sum += w[p];
  }
  j.cut[parts] = n;
  if (parts == 1) {
    fn(ctx, 0, 0, n);
    return;
  }
  run_parts(balanced_part, &j);
  balance_learn(b, &j, parts);
}

/* Sets the number of threads (1..64); returns the number now in use. */
int rnn_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAXT) n = MAXT;
  pthread_mutex_lock(&run_mu);
  if (n == n_threads) {
    pthread_mutex_unlock(&run_mu);
    return n;
  }
  pthread_mutex_lock(&pool_mu);
  atomic_store(&pool_quit, 1);
  pthread_cond_broadcast(&pool_go);
  pthread_mutex_unlock(&pool_mu);
  for (int i = 1; i < n_threads; i++) pthread_join(workers[i], NULL);
  atomic_store(&pool_quit, 0);
  n_threads = 1;
  start_gen = ticket_gen(atomic_load(&job_ticket));
  for (int i = 1; i < n; i++) {
    if (pthread_create(&workers[i], NULL, worker_main, NULL) != 0) break;
    n_threads = i + 1;
  }
  n = n_threads;
  pthread_mutex_unlock(&run_mu);
  return n;
}

/* The version of this file's ABI: build.ts checks it after loading. */
int rnn_abi_version(void) { return 7; }

/* ------------------------------------------------------------ core probe */

static volatile float probe_sink;

/* GFLOP/s of `rounds` rounds of 16 independent 16-float multiply-add chains on this thread. */
static double fma_rate(long rounds) {
  v16 acc[16], m = (v16){0} + probe_sink * 1e-9f, c = (v16){0} + 1.0f;
  for (int i = 0; i < 16; i++) acc[i] = (v16){0} + (float)i;
  double t0 = seconds();
  for (long r = 0; r < rounds; r++)
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) acc[i] = acc[i] * m + c;
  double t = seconds() - t0;
  v16 sum = {0};
  for (int i = 0; i < 16; i++) sum += acc[i];
  probe_sink = sum[0];
  return t > 0 ? (double)rounds * 16 * 16 * 2 / t / 1e9 : 0;
}

typedef struct {
  long rounds;
  double *out;
  _Atomic int arrived;
} probe_job;

static void probe_part(void *ctx, int part, int parts) {
  probe_job *j = ctx;
  /* Every part starts once all have arrived (the caller runs part 0 and each worker one of the
   * others, so they all come): a worker still waking must not leave its part to the caller. */
  atomic_fetch_add(&j->arrived, 1);
  while (atomic_load(&j->arrived) < parts) cpu_relax(0);
  j->out[1 + part] = fma_rate(j->rounds);
}

/*
 * For the record (the bench): the arithmetic this thread does alone, out[0],
 * then each thread of the pool's while all run at once, out[1 + part] (GFLOP/s
 * of multiply-adds, `rounds` rounds of 512 flops each; out holds 1 + 64).
 * Returns the number of threads. On a VM two threads may share one physical
 * core, each then at about half speed: a second thread then adds little, and
 * the figures say which case a measurement ran in.
 */
int rnn_core_probe(long rounds, double *out) {
  out[0] = fma_rate(rounds);
  probe_job j = {rounds, out, 0};
  run_parts(probe_part, &j);
  return n_threads;
}

/* [lo, hi): part's share of n items. */
static void share(int n, int part, int parts, int *lo, int *hi) {
  *lo = (int)((long)n * part / parts);
  *hi = (int)((long)n * (part + 1) / parts);
}

/* Per-thread scratch buffers, grown on demand and kept. */
static float *scratch_buf[MAXT][3];
static size_t scratch_len[MAXT][3];

static float *scratch(int part, int which, size_t n) {
  if (scratch_len[part][which] < n) {
    free(scratch_buf[part][which]);
    scratch_buf[part][which] = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    scratch_len[part][which] = scratch_buf[part][which] ? n : 0;
  }
  return scratch_buf[part][which];
}

/*
 * Buffers the sequence kernels keep between calls, so that a call does not
 * fault in megabytes of fresh pages (the input projections alone are T*B*G*H
 * floats). One set, used under seq_mu: calls from several threads take turns.
 */
static pthread_mutex_t seq_mu = PTHREAD_MUTEX_INITIALIZER;
enum { KEPT_XW, KEPT_RID, KEPT_WP, KEPT_A0, KEPT_A1, KEPT_DZX, KEPT_DZH, KEPT_CARRY, KEPT_CARRY2, KEPT_DP, KEPT_N };
static float *kept_buf[KEPT_N];
static size_t kept_len[KEPT_N];

/* Kept buffer `which` of at least n floats (contents left over from the last call), or NULL. */
static float *kept(int which, size_t n) {
  if (kept_len[which] < n) {
    free(kept_buf[which]);
    kept_buf[which] = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    kept_len[which] = kept_buf[which] ? n : 0;
  }
  return kept_buf[which];
}

/* Kept buffer `which` of n floats, zeroed. */
static float *kept_zero(int which, size_t n) {
  float *p = kept(which, n);
  if (p) memset(p, 0, n * sizeof(float));
  return p;
}

/* ------------------------------------------------------------------- GEMM */

/* C[m, n] (+)= A_panel[MR, K] B_panel[K, NR]; A packed k-major (MR per k), B (NR per k). */
static void micro(int K, const float *restrict Ap, const float *restrict Bp, float *restrict C,
                  int ldc, int m, int n, int acc) {
  v16 c0[MR], c1[MR];
  for (int r = 0; r < MR; r++) c0[r] = c1[r] = (v16){0};
  for (int k = 0; k < K; k++) {
    v16 b0, b1;
    memcpy(&b0, Bp, 64);
    memcpy(&b1, Bp + 16, 64);
    Bp += NR;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      float a = Ap[r];
      c0[r] += a * b0;
      c1[r] += a * b1;
    }
    Ap += MR;
  }
  if (m == MR && n == NR) {
    for (int r = 0; r < MR; r++) {
      float *cr = C + (size_t)r * ldc;
      if (acc) {
        v16 t0, t1;
        memcpy(&t0, cr, 64);
        memcpy(&t1, cr + 16, 64);
        c0[r] += t0;
        c1[r] += t1;
      }
      memcpy(cr, &c0[r], 64);
      memcpy(cr + 16, &c1[r], 64);
    }
    return;
  }
  float tmp[MR * NR];
  for (int r = 0; r < MR; r++) {
    memcpy(tmp + r * NR, &c0[r], 64);
    memcpy(tmp + r * NR + 16, &c1[r], 64);
  }
  for (int r = 0; r < m; r++)
    for (int j = 0; j < n; j++) {
      float *c = C + (size_t)r * ldc + j;
      *c = acc ? *c + tmp[r * NR + j] : tmp[r * NR + j];
    }
}

/*
 * One MR-row block (rows row0..) of op(A) = A^T packed k-major: the block's
 * rows at step k are MR consecutive floats of A's row k, so each step is one
 * run copy (reading A column by column cost a cache line per float).
 */
static void pack_a_transposed(const float *A, int lda, int M, int row0, int k0, int kc,
                              float *dst) {
  int m = M - row0 < MR ? M - row0 : MR;
  for (int k = 0; k < kc; k++) {
    const float *src = A + (size_t)(k0 + k) * lda + row0;
    float *d = dst + (size_t)k * MR;
    if (m == MR) {
      memcpy(d, src, MR * sizeof(float));
    } else {
      for (int r = 0; r < MR; r++) d[r] = r < m ? src[r] : 0.0f;
    }
  }
}

/*
 * Packs the MR-row blocks ib0..ib1 of op(A) [M, K] (columns k0..k0+kc), k-major,
 * zero-padded, block ib at (ib - ib0) * kc * MR.
 */
static void pack_a_blocks(int ta, const float *A, int lda, int M, int ib0, int ib1, int k0, int kc,
                          float *Ap) {
  for (int ib = ib0; ib < ib1; ib++) {
    float *dst = Ap + (size_t)(ib - ib0) * kc * MR;
    if (ta) {
      pack_a_transposed(A, lda, M, ib * MR, k0, kc, dst);
      continue;
    }
    for (int r = 0; r < MR; r++) {
      int row = ib * MR + r;
      if (row >= M) {
        for (int k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
      } else {
        const float *src = A + (size_t)row * lda + k0;
        for (int k = 0; k < kc; k++) dst[k * MR + r] = src[k];
      }
    }
  }
}

/*
 * pack_b for op(B) = B^T: column j of the panel is row j of src (n of NR rows,
 * ldb apart), kc floats of it. Copied 16 floats (a cache line) of each row at a
 * time: floats at once from all NR rows, rows a page apart as in Wh (the
 * backward's operand), mapped to one cache set and evicted each other before
 * their next float was read (3.6 GB/s).
 */
static void pack_b_transposed(const float *src, int ldb, int n, int kc, float *Bp) {
  for (int k0 = 0; k0 < kc; k0 += 16) {
    int m = kc - k0 < 16 ? kc - k0 : 16;
    for (int j = 0; j < NR; j++)
      for (int k = 0; k < m; k++)
        Bp[(size_t)(k0 + k) * NR + j] = j < n ? src[(size_t)j * ldb + k0 + k] : 0.0f;
  }
}

/* Packs the NR columns of panel p of op(B) [K, N] (rows k0..k0+kc), zero-padded. */
static void pack_b(int tb, const float *B, int ldb, int N, int k0, int kc, int p, float *Bp) {
  int c0 = p * NR, n = N - c0 < NR ? N - c0 : NR;
  if (tb) {
    pack_b_transposed(B + (size_t)c0 * ldb + k0, ldb, n, kc, Bp);
    return;
  }
  for (int k = 0; k < kc; k++) {
    float *dst = Bp + (size_t)k * NR;
    memcpy(dst, B + (size_t)(k0 + k) * ldb + c0, (size_t)n * sizeof(float));
    for (int j = n; j < NR; j++) dst[j] = 0.0f;
  }
}

/*
 * Sums of a product's B operand taken as it is packed: B's column sums added
 * into `cols` [N] and, with ids, each row k of B added into row ids[k] of
 * `by_id` (row stride ld; an id outside [0, V): no row). Each element of B is
 * packed once (the parts split B's panels) and the rows come in order, so the
 * values are those of a pass of their own over B, to the bit, without reading
 * B again (the LSTM's dZ is 4.6 MB, out of the caches by then).
 */
typedef struct {
  float *cols, *by_id;
  const float *ids;
  int V, ld;
} b_sums;

typedef struct {
  int ta, tb, M, N, K, lda, ldb, ldc, acc;
  int by_rows; /* the parts split A's row blocks (each packs all of B), else B's panels */
  const float *A, *B;
  float *C;
  const b_sums *sums; /* or NULL */
} gemm_job;

/* A row of n floats (NR: vectors) added into acc. */
static inline void add_panel_row(float *restrict acc, const float *restrict row, int n) {
  if (n == NR) {
    stv(acc, ldv(acc) + ldv(row));
    stv(acc + 16, ldv(acc + 16) + ldv(row + 16));
    return;
  }
  for (int j = 0; j < n; j++) acc[j] += row[j];
}

/* b_sums of a packed panel of B: rows k0 .. k0+kc of its columns c0 .. c0+n. */
static void sum_packed(const b_sums *bs, const float *Bp, int k0, int kc, int c0, int n) {
  for (int k = 0; k < kc; k++) {
    const float *row = Bp + (size_t)k * NR;
    add_panel_row(bs->cols + c0, row, n);
    if (bs->ids && in_table(bs->ids[k0 + k], bs->V))
      add_panel_row(bs->by_id + (size_t)bs->ids[k0 + k] * bs->ld + c0, row, n);
  }
}

/*
 * This part's share of C: its panels of columns, or its blocks of rows. Each
 * part packs the operand it does not split whole, so the split is the one
 * that duplicates the smaller packing. Every element of C is summed over the
 * same k-chunks in the same order whatever the split: thread counts agree bit
 * for bit.
 */
static void gemm_range(void *ctx, int part, int lo, int hi) {
  const gemm_job *g = ctx;
  int panels = (g->N + NR - 1) / NR, blocks = (g->M + MR - 1) / MR;
  int plo = 0, phi = panels, blo = 0, bhi = blocks;
  if (g->by_rows)
    blo = lo, bhi = hi;
  else
    plo = lo, phi = hi;
  if (g->K == 0) {
    if (!g->acc)
      for (int i = blo * MR; i < bhi * MR && i < g->M; i++)
        for (int j = plo * NR; j < phi * NR && j < g->N; j++) g->C[(size_t)i * g->ldc + j] = 0.0f;
    return;
  }
  float *Ap = scratch(part, 0, (size_t)(bhi - blo) * MR * KC);
  float *Bp = scratch(part, 1, (size_t)KC * NR);
  for (int k0 = 0; k0 < g->K; k0 += KC) {
    int kc = g->K - k0 < KC ? g->K - k0 : KC;
    pack_a_blocks(g->ta, g->A, g->lda, g->M, blo, bhi, k0, kc, Ap);
    for (int p = plo; p < phi; p++) {
      pack_b(g->tb, g->B, g->ldb, g->N, k0, kc, p, Bp);
      int n = g->N - p * NR < NR ? g->N - p * NR : NR;
      if (g->sums) sum_packed(g->sums, Bp, k0, kc, p * NR, n);
      for (int ib = blo; ib < bhi; ib++) {
        int m = g->M - ib * MR < MR ? g->M - ib * MR : MR;
        micro(kc, Ap + (size_t)(ib - blo) * kc * MR, Bp, g->C + (size_t)ib * MR * g->ldc + p * NR,
              g->ldc, m, n, g->acc || k0 > 0);
      }
    }
  }
}

/* gemm (below), taking `sums` of B as it packs it (NULL: none). */
static void gemm_summing(int ta, int tb, int M, int N, int K, const float *A, int lda,
                         const float *B, int ldb, float *C, int ldc, int acc, const b_sums *sums) {
  /* Split the rows when A is the much larger operand (each part then packs only its rows of
   * it, and all of B): with M near N, packing B (strided when transposed) costs more. Never
   * with sums: each part would pack, and sum, all of B. */
  int by_rows = !sums && n_threads > 1 && M >= 2 * N && (M + MR - 1) / MR >= 2 * n_threads;
  gemm_job g = {ta, tb, M, N, K, lda, ldb, ldc, acc, by_rows, A, B, C, sums};
  int items = by_rows ? (M + MR - 1) / MR : (N + NR - 1) / NR;
  if (M > 0) run_balanced(&balance_gemm, items, gemm_range, &g);
}

/* C = op(A) op(B) (+ C when acc): rnn_gemm's product. */
static void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float *C, int ldc, int acc) {
  gemm_summing(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc, NULL);
}

/*
 * C[M, N] = op(A)[M, K] op(B)[K, N] (+ C when acc), op = transpose when ta/tb;
 * lda/ldb/ldc are the row strides of A, B, C as stored.
 */
void rnn_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float *C, int ldc, int acc) {
  gemm(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, acc);
}

/* ------------------------------------------------------ fast activations */

/* exp(x) to about 1 ulp on [-87, 88], branch-free so that loops vectorise. */
static inline float exp_f(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f; /* 1.5 * 2^23: rounds to an integer */
  float kf = x * 1.44269504088896341f + shifter;
  int32_t ki;
  memcpy(&ki, &kf, 4);
  ki -= 0x4B400000;
  kf -= shifter;
  float r = x - kf * 0.693145751953125f;
  r -= kf * 1.428606765330187e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (ki + 127) << 23;
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}

static inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }
static inline float tanh_f(float x) { return 1.0f - 2.0f / (1.0f + exp_f(2.0f * x)); }

/* ------------------------------------------------------------- sequences */

enum { RNN_TANH = 0, RNN_RELU = 1, GRU_BEFORE = 2, GRU_AFTER = 3, LSTM = 4 };

static int gates_of(int kind) { return kind == LSTM ? 4 : kind >= GRU_BEFORE ? 3 : 1; }

/* Index of (row, k) in a packed A operand with K columns. */
static inline size_t apack(int row, int k, int K) {
  return ((size_t)(row / MR) * K + k) * MR + (row % MR);
}

/*
 * The sequence's shared state. Forward packs Wh with its gate columns
 * interleaved: panel p holds, for units p*U .. p*U+U-1 (U = NR / G), the
 * columns of gate 0, then gate 1, ...; so one panel's product is every gate of
 * its units, and each thread finishes its units' step without waiting.
 */
typedef struct {
  int kind, T, B, D, H, V, G, U, cell_states;
  const float *X, *ids, *Wx, *Wh, *b, *bhh, *h0, *c0;
  float *value; /* forward result: hs [T*B, H], then (LSTM) c blocks */
  float *work;  /* saved for backward (layout per kind, see rnn_work_size) */
  const float *dvalue;
  float *dX, *dWx, *dWh, *db, *dbhh, *dh0, *dc0;
  /* internal */
  float *XW;          /* [T*B, G*H] input projections + bias; with a table: [V+1, G*H] */
  const int32_t *rid; /* with a table: [T*B] the row of XW of each step and sequence */
  float *WhP;         /* interleaved packed Wh (forward) */
  float *WhTP;        /* packed Wh^T panels of NR units (backward) */
  float *Apack[2];    /* packed states / gradients, double-buffered */
  float *dZx, *dZh;   /* [T*B, G*H] pre-activation gradients (input side, recurrent side) */
  float *carry, *carry2; /* [B, H]: dc (LSTM), dh z (GRU) */
  float *dP;          /* with a table: [V, G*H] dZx's rows summed by id */
  int acc;            /* backward: add the weight gradients to dWx, dWh, db, dbhh */
  int t, cur;
} seq;

/* work layout: acts [T*B, G*H] then extras: LSTM c, tanh c [T*B, H] each; GRU_AFTER hn [T*B, H];
 * GRU_BEFORE r*h [T*B, H]. */
long rnn_work_size(int kind, int T, int B, int H) {
  long n = (long)T * B, G = gates_of(kind);
  long extra = kind == LSTM ? 2 * n * H : kind >= GRU_BEFORE ? n * H : 0;
  return (kind <= RNN_RELU ? 0 : n * G * H) + extra;
}

static float *acts(seq *s) { return s->work; }
static float *extra(seq *s) { return s->work + (size_t)s->T * s->B * s->G * s->H; }

static const float *hprev_row(seq *s, int t, int row) {
  return t == 0 ? s->h0 + (size_t)row * s->H : s->value + ((size_t)(t - 1) * s->B + row) * s->H;
}

typedef struct {
  const float *Wh;
  int ldw, K, H, G, col0;
  float *P;
} interleave_job;

/* This part's panels of pack_interleaved (a megabyte for the d2l LSTM: the threads share it). */
static void interleave_part(void *ctx, int part, int parts) {
  const interleave_job *j = ctx;
  const float *Wh = j->Wh;
  int ldw = j->ldw, K = j->K, H = j->H, G = j->G, col0 = j->col0, U = NR / G, lo, hi;
  float *P = j->P;
  share((H + U - 1) / U, part, parts, &lo, &hi);
  for (int p = lo; p < hi; p++) {
    int u0 = p * U, un = H - u0 < U ? H - u0 : U;
    for (int k = 0; k < K; k++) {
      float *dst = P + ((size_t)p * K + k) * NR;
      const float *src = Wh + (size_t)k * ldw + col0 + u0;
      memset(dst, 0, NR * sizeof(float)); /* gates past G and units past H: zero columns */
      for (int g = 0; g < G; g++) memcpy(dst + g * U, src + (size_t)g * H, (size_t)un * sizeof(float));
    }
  }
}

/* Packs Wh's columns [col0, col0+G*H) gate-interleaved for G gates (of stride H in Wh) into P. */
static float *pack_interleaved(const float *Wh, int ldw, int K, int H, int G, int col0, float *P) {
  interleave_job j = {Wh, ldw, K, H, G, col0, P};
  if (P) run_parts(interleave_part, &j);
  return P;
}

/* This part's panels of Wh^T [W, H] packed in panels of NR units (the backward's operand). */
static void pack_wht_part(void *ctx, int part, int parts) {
  const seq *s = ctx;
  int W = s->G * s->H, lo, hi;
  share((s->H + NR - 1) / NR, part, parts, &lo, &hi);
  for (int p = lo; p < hi; p++) pack_b(1, s->Wh, W, s->H, 0, W, p, s->WhTP + (size_t)p * W * NR);
}

/* Floats of pack_interleaved's result. */
static size_t interleaved_size(int K, int H, int G) {
  int U = NR / G;
  return (size_t)((H + U - 1) / U) * K * NR;
}

/*
 * Input projections X Wx + b for every step. With a table, XW is the table's
 * projection [V+1, G*H] (row V: b alone, for ids outside the table) and rid
 * the row of each step: the cells read those rows in place, so the forward
 * pass does not write and read back a [T*B, G*H] array (4.5 MB for the d2l
 * LSTM, its reads missed the cache).
 */
static int project(seq *s) {
  int N = s->T * s->B, W = s->G * s->H, V = s->V;
  if (s->ids) {
    int32_t *rid = (int32_t *)kept(KEPT_RID, (size_t)N);
    s->XW = kept(KEPT_XW, (size_t)(V + 1) * W);
    if (!rid || !s->XW) return -1;
    for (int v = 0; v <= V; v++) memcpy(s->XW + (size_t)v * W, s->b, (size_t)W * sizeof(float));
    gemm(0, 0, V, W, s->D, s->X, s->D, s->Wx, W, s->XW, W, 1);
    for (int n = 0; n < N; n++) {
      rid[n] = in_table(s->ids[n], V) ? (int32_t)s->ids[n] : V;
    }
    s->rid = rid;
  } else {
    s->XW = kept(KEPT_XW, (size_t)N * W);
    if (!s->XW) return -1;
    for (int n = 0; n < N; n++) memcpy(s->XW + (size_t)n * W, s->b, (size_t)W * sizeof(float));
    gemm(0, 0, N, W, s->D, s->X, s->D, s->Wx, W, s->XW, W, 1);
  }
  return 0;
}

/* The input projection (+ b) of step-major row n. */
static inline const float *xw_row(const seq *s, size_t n) {
  size_t W = (size_t)s->G * s->H;
  return s->XW + (s->rid ? (size_t)s->rid[n] : n) * W;
}

/*
 * The LSTM cell on one 8-row block of a panel's product `tmp` [m, NR] (gates
 * interleaved: U columns each of i, f, o, g): every gate's activation in one
 * branch-free loop over the block (so that it vectorises: a scalar exp per
 * value was most of the forward pass), then tanh(c) likewise, then h.
 */
/*
 * lstm_block for a whole block (MR rows, U units, the case of every block when
 * B % MR == 0 and H % U == 0): the pre-activations gathered into one MR x NR
 * tile and every activation in one loop over it (tanh(x) = 2 sigmoid(2x) - 1
 * for g), fixed trip counts throughout (loops of odd lengths per row stayed
 * partly scalar), every store a run of U floats, and the new h written into the
 * packed operand of the next step as the block's transpose.
 */
static void lstm_block_full(seq *s, int t, int row0, int u0, const float *tmp, float *Aout) {
  enum { U = NR / 4 };
  /* per column of the tile: 0 for the sigmoid gates i, f, o; 1 for g (tanh) */
  static const float g_col[NR] = {[3 * U ... 4 * U - 1] = 1.0f};
  int T = s->T, B = s->B, H = s->H, W = 4 * H;
  float *A = acts(s), *E = extra(s);
  float z[MR * NR], cp[MR * U], c[MR * U], tc[MR * U], hs[MR * U];
  size_t n0 = (size_t)t * B + row0;
  for (int r = 0; r < MR; r++) {
    const float *xw = xw_row(s, n0 + r) + u0, *zr = tmp + r * NR;
    const float *cprev = t == 0 ? s->c0 + (size_t)(row0 + r) * H + u0 : E + (n0 + r - B) * H + u0;
    for (int g = 0; g < 4; g++)
      for (int uu = 0; uu < U; uu++) z[r * NR + g * U + uu] = zr[g * U + uu] + xw[(size_t)g * H + uu];
    memcpy(cp + r * U, cprev, U * sizeof(float));
  }
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < NR; j++) {
      float k = g_col[j];
      z[r * NR + j] = sigmoid_f(z[r * NR + j] * (1.0f + k)) * (1.0f + k) - k;
    }
  for (int r = 0; r < MR; r++)
    for (int uu = 0; uu < U; uu++) {
      const float *zr = z + r * NR;
      c[r * U + uu] = zr[U + uu] * cp[r * U + uu] + zr[uu] * zr[3 * U + uu];
    }
  for (int j = 0; j < MR * U; j++) tc[j] = tanh_f(c[j]);
  for (int r = 0; r < MR; r++)
    for (int uu = 0; uu < U; uu++) hs[r * U + uu] = z[r * NR + 2 * U + uu] * tc[r * U + uu];
  for (int r = 0; r < MR; r++) {
    size_t n = n0 + r;
    float *act = A + n * W + u0;
    for (int g = 0; g < 4; g++) memcpy(act + (size_t)g * H, z + r * NR + g * U, U * sizeof(float));
    memcpy(E + n * H + u0, c + r * U, U * sizeof(float));
    memcpy(E + (size_t)T * B * H + n * H + u0, tc + r * U, U * sizeof(float));
    memcpy(s->value + n * H + u0, hs + r * U, U * sizeof(float));
  }
  float *dst = Aout + apack(row0, u0, H); /* row0 % MR == 0: unit u's MR rows are contiguous */
  for (int uu = 0; uu < U; uu++)
    for (int r = 0; r < MR; r++) dst[uu * MR + r] = hs[r * U + uu];
}

static void lstm_block(seq *s, int t, int row0, int m, int u0, int un, const float *tmp,
                       float *Aout) {
  enum { U = NR / 4 }; /* units per panel: a constant, so the loops below have fixed lengths */
  if (m == MR && un == U) {
    lstm_block_full(s, t, row0, u0, tmp, Aout);
    return;
  }
  int B = s->B, H = s->H, W = 4 * H;
  float pre[MR * NR], cs[MR * U];
  for (int r = 0; r < m; r++) {
    const float *xw = xw_row(s, (size_t)t * B + row0 + r);
    float *z = pre + r * NR;
    for (int g = 0; g < 4; g++)
      for (int uu = 0; uu < U; uu++)
        z[g * U + uu] = tmp[r * NR + g * U + uu] + (uu < un ? xw[g * H + u0 + uu] : 0.0f);
    for (int j = 0; j < 3 * U; j++) z[j] = sigmoid_f(z[j]);     /* i, f, o */
    for (int j = 3 * U; j < 4 * U; j++) z[j] = tanh_f(z[j]);    /* g */
  }
  float *A = acts(s), *E = extra(s);
  for (int r = 0; r < m; r++) {
    int row = row0 + r;
    size_t n = (size_t)t * B + row;
    const float *cprev = t == 0 ? s->c0 + (size_t)row * H : E + (n - B) * H;
    const float *z = pre + r * NR;
    float *act = A + n * W;
    for (int uu = 0; uu < un; uu++) {
      int u = u0 + uu;
      float i = z[uu], f = z[U + uu], g = z[3 * U + uu];
      float c = f * cprev[u] + i * g;
      act[u] = i, act[H + u] = f, act[2 * H + u] = z[2 * U + uu], act[3 * H + u] = g;
      E[n * H + u] = c;
      cs[r * U + uu] = c;
    }
  }
  for (int j = 0; j < m * U; j++) cs[j] = tanh_f(cs[j]);
  for (int r = 0; r < m; r++) {
    int row = row0 + r;
    size_t n = (size_t)t * B + row;
    for (int uu = 0; uu < un; uu++) {
      int u = u0 + uu;
      float tc = cs[r * U + uu], out = pre[r * NR + 2 * U + uu] * tc;
      E[(size_t)s->T * B * H + n * H + u] = tc;
      s->value[n * H + u] = out;
      Aout[apack(row, u, H)] = out;
    }
  }
}

/*
 * Forward step t on the tiles of panels [plo, phi) and row blocks [blo, bhi):
 * Z = h_{t-1} Wh (interleaved), then the cell; reads Apack[cur], writes Apack[1 - cur].
 */
static void forward_tiles(seq *s, int t, int cur, int plo, int phi, int blo, int bhi) {
  int B = s->B, H = s->H, G = s->G, U = s->U, W = G * H;
  const float *Ain = s->Apack[cur];
  float *Aout = s->Apack[1 - cur];
  float *A = acts(s), *E = extra(s);
  float tmp[MR * NR];
  for (int p = plo; p < phi; p++) {
    int u0 = p * U, un = H - u0 < U ? H - u0 : U;
    for (int ib = blo; ib < bhi; ib++) {
      micro(H, Ain + (size_t)ib * H * MR, s->WhP + (size_t)p * H * NR, tmp, NR, MR, NR, 0);
      int m = B - ib * MR < MR ? B - ib * MR : MR;
      if (s->kind == LSTM) {
        lstm_block(s, t, ib * MR, m, u0, un, tmp, Aout);
        continue;
      }
      for (int r = 0; r < m; r++) {
        int row = ib * MR + r;
        size_t n = (size_t)t * B + row;
        const float *xw = xw_row(s, n), *z = tmp + r * NR, *hp = hprev_row(s, t, row);
        float *h = s->value + n * H;
        for (int uu = 0; uu < un; uu++) {
          int u = u0 + uu;
          float out;
          if (s->kind == LSTM) {
            float i = sigmoid_f(z[uu] + xw[u]), f = sigmoid_f(z[U + uu] + xw[H + u]);
            float o = sigmoid_f(z[2 * U + uu] + xw[2 * H + u]);
            float g = tanh_f(z[3 * U + uu] + xw[3 * H + u]);
            float cp = t == 0 ? s->c0[(size_t)row * H + u] : E[(n - B) * H + u];
            float c = f * cp + i * g, tc = tanh_f(c);
            out = o * tc;
            float *a = A + n * W;
            a[u] = i, a[H + u] = f, a[2 * H + u] = o, a[3 * H + u] = g;
            E[n * H + u] = c;
            E[(size_t)s->T * B * H + n * H + u] = tc;
          } else if (s->kind == GRU_AFTER) {
            float zg = sigmoid_f(z[uu] + xw[u]), rg = sigmoid_f(z[U + uu] + xw[H + u]);
            float hn = z[2 * U + uu] + s->bhh[u];
            float nc = tanh_f(xw[2 * H + u] + rg * hn);
            out = nc + zg * (hp[u] - nc);
            float *a = A + n * W;
            a[u] = zg, a[H + u] = rg, a[2 * H + u] = nc;
            E[n * H + u] = hn;
          } else {
            float a = z[uu] + xw[u];
            out = s->kind == RNN_TANH ? tanh_f(a) : (a > 0.0f ? a : 0.0f);
          }
          h[u] = out;
          Aout[apack(row, u, H)] = out;
        }
      }
    }
  }
}

static int panels_of(const seq *s, int units) { return (s->H + units - 1) / units; }
static int blocks_of(const seq *s) { return (s->B + MR - 1) / MR; }

/*
 * Whether the threads split the batch's row blocks, each running every step of
 * its own rows, rather than each step's units: a row's recurrence reads only
 * its own row's states, so they then never wait on each other between steps
 * (a job a step, and every row of h crossing between the cores). Only when the
 * blocks share out about evenly, and each thread gets at least `per_part` of
 * them: a rows split reads every panel of the packed weights each step, for
 * only its own blocks.
 */
static int split_rows(const seq *s, int per_part) {
  int blocks = blocks_of(s);
  return blocks >= per_part * n_threads && (blocks % n_threads == 0 || blocks >= 4 * n_threads);
}

/*
 * The forward pass splits rows from 4 blocks a thread: its weights' panels (K =
 * H) are read from L1 for a thread's next blocks, and with 2 blocks a thread
 * (the d2l LSTM at 2 threads) re-reading all 1 MB from L2 and L3 each step made
 * the forward 0.2 ms (8%) slower than each thread's units split, whose share of
 * the weights stays in its own L2. The backward's panels (K = G*H) come from L2
 * either way: a block a thread pays.
 */
enum { FORWARD_ROWS_PER_PART = 4, BACKWARD_ROWS_PER_PART = 1 };

/* One forward step on panels (units) [lo, hi). */
static void forward_range(void *ctx, int part, int lo, int hi) {
  (void)part;
  seq *s = ctx;
  forward_tiles(s, s->t, s->cur, lo, hi, 0, blocks_of(s));
}

/* Every forward step of this part's row blocks. */
static void forward_rows_part(void *ctx, int part, int parts) {
  seq *s = ctx;
  int lo, hi;
  share(blocks_of(s), part, parts, &lo, &hi);
  for (int t = 0, cur = 0; t < s->T; t++, cur = 1 - cur)
    forward_tiles(s, t, cur, 0, panels_of(s, s->U), lo, hi);
}

/*
 * dst[0, len) = a[j] + b[j] for j < n, zeros past n: a row of fixed length
 * (len a constant where it is inlined) for an activation loop that vectorises.
 */
static inline void add_padded(float *restrict dst, const float *a, const float *b, int n, int len) {
  if (n == len) {
    for (int j = 0; j < len; j++) dst[j] = a[j] + b[j];
    return;
  }
  for (int j = 0; j < len; j++) dst[j] = j < n ? a[j] + b[j] : 0.0f;
}

/*
 * GRU with the reset gate before the product, phase 1: z, r and r*h for this
 * part's units; each row's 2 x U pre-activations padded to NR and their
 * sigmoids in one fixed-length loop (a scalar exp per value was most of the
 * step: the product is small at the classifier's sizes).
 */
static void gru_before_zr_part(void *ctx, int part, int parts) {
  seq *s = ctx;
  int t = s->t, B = s->B, H = s->H, W = 3 * H, U = NR / 2;
  int panels = (H + U - 1) / U, blocks = (B + MR - 1) / MR, lo, hi;
  share(panels, part, parts, &lo, &hi);
  const float *Ain = s->Apack[s->cur];
  float *RH = s->Apack[1 - s->cur], *A = acts(s), *E = extra(s);
  float tmp[MR * NR];
  for (int p = lo; p < hi; p++) {
    int u0 = p * U, un = H - u0 < U ? H - u0 : U;
    for (int ib = 0; ib < blocks; ib++) {
      micro(H, Ain + (size_t)ib * H * MR, s->WhP + (size_t)p * H * NR, tmp, NR, MR, NR, 0);
      int m = B - ib * MR < MR ? B - ib * MR : MR;
      for (int r = 0; r < m; r++) {
        int row = ib * MR + r;
        size_t n = (size_t)t * B + row;
        const float *xw = xw_row(s, n), *z = tmp + r * NR, *hp = hprev_row(s, t, row);
        float g[NR];
        add_padded(g, z, xw + u0, un, NR / 2);
        add_padded(g + NR / 2, z + U, xw + H + u0, un, NR / 2);
        for (int j = 0; j < NR; j++) g[j] = sigmoid_f(g[j]);
        for (int uu = 0; uu < un; uu++) {
          int u = u0 + uu;
          float rh = g[U + uu] * hp[u];
          A[n * W + u] = g[uu], A[n * W + H + u] = g[U + uu];
          E[n * H + u] = rh;
          RH[apack(row, u, H)] = rh;
        }
      }
    }
  }
}

/* Phase 2: the candidate from (r*h) W_hh (tanh in one fixed-length loop a row) and the new state. */
static void gru_before_h_part(void *ctx, int part, int parts) {
  seq *s = ctx;
  int t = s->t, B = s->B, H = s->H, W = 3 * H;
  int panels = (H + NR - 1) / NR, blocks = (B + MR - 1) / MR, lo, hi;
  share(panels, part, parts, &lo, &hi);
  const float *RH = s->Apack[1 - s->cur];
  float *Aout = s->Apack[s->cur], *A = acts(s);
  float tmp[MR * NR];
  const float *WhhP = s->WhP + (size_t)((H + NR / 2 - 1) / (NR / 2)) * H * NR;
  for (int p = lo; p < hi; p++) {
    int u0 = p * NR, un = H - u0 < NR ? H - u0 : NR;
    for (int ib = 0; ib < blocks; ib++) {
      micro(H, RH + (size_t)ib * H * MR, WhhP + (size_t)p * H * NR, tmp, NR, MR, NR, 0);
      int m = B - ib * MR < MR ? B - ib * MR : MR;
      for (int r = 0; r < m; r++) {
        int row = ib * MR + r;
        size_t n = (size_t)t * B + row;
        const float *xw = xw_row(s, n), *z = tmp + r * NR, *hp = hprev_row(s, t, row);
        float *h = s->value + n * H, cand[NR];
        add_padded(cand, z, xw + 2 * H + u0, un, NR);
        for (int j = 0; j < NR; j++) cand[j] = tanh_f(cand[j]);
        for (int uu = 0; uu < un; uu++) {
          int u = u0 + uu;
          float nc = cand[uu], zg = A[n * W + u];
          A[n * W + 2 * H + u] = nc;
          h[u] = nc + zg * (hp[u] - nc);
          Aout[apack(row, u, H)] = h[u];
        }
      }
    }
  }
}

static int seq_alloc(seq *s) {
  int B = s->B, H = s->H, W = s->G * s->H, blocks = (B + MR - 1) / MR;
  size_t na = (size_t)blocks * MR * (W > H ? W : H);
  s->Apack[0] = kept_zero(KEPT_A0, na);
  s->Apack[1] = kept_zero(KEPT_A1, na);
  return s->Apack[0] && s->Apack[1] ? 0 : -1;
}

/*
 * Forward pass of a whole sequence. kind: 0 rnn tanh, 1 rnn relu, 2 gru (reset
 * before), 3 gru (reset after), 4 lstm. X [T*B, D], or with ids (non-NULL) a table
 * [V, D] read at ids [T*B] (the id V: zeros). value: [T*B, H] states, then for
 * LSTM the cell states of every step ([T*B, H], cell_states) or the last ([B, H]).
 * work: rnn_work_size floats, kept for the backward pass. Returns 0, or -1 when
 * memory ran out.
 */
int rnn_seq_forward(int kind, int T, int B, int D, int H, int V, const float *X, const float *ids,
                    const float *Wx, const float *Wh, const float *b, const float *bhh,
                    const float *h0, const float *c0, int cell_states, float *value, float *work) {
  seq s = {0};
  s.kind = kind, s.T = T, s.B = B, s.D = D, s.H = H, s.V = V, s.G = gates_of(kind);
  s.U = NR / s.G, s.cell_states = cell_states;
  s.X = X, s.ids = ids, s.Wx = Wx, s.Wh = Wh, s.b = b, s.bhh = bhh, s.h0 = h0, s.c0 = c0;
  s.value = value, s.work = work;
  int rc = -1;
  pthread_mutex_lock(&seq_mu);
  if (seq_alloc(&s) || project(&s)) goto done;
  if (kind == GRU_BEFORE) {
    size_t zr = interleaved_size(H, H, 2), hh = interleaved_size(H, H, 1);
    s.WhP = kept(KEPT_WP, zr + hh);
    pack_interleaved(Wh, 3 * H, H, H, 2, 0, s.WhP);
    if (s.WhP) pack_interleaved(Wh, 3 * H, H, H, 1, 2 * H, s.WhP + zr);
  } else {
    s.WhP = pack_interleaved(Wh, s.G * H, H, H, s.G, 0, kept(KEPT_WP, interleaved_size(H, H, s.G)));
  }
  if (!s.WhP) goto done;
  for (int row = 0; row < B; row++)
    for (int u = 0; u < H; u++) s.Apack[0][apack(row, u, H)] = h0[(size_t)row * H + u];
  s.cur = 0;
  if (kind != GRU_BEFORE && split_rows(&s, FORWARD_ROWS_PER_PART)) {
    run_parts(forward_rows_part, &s);
  } else {
    for (int t = 0; t < T; t++) {
      s.t = t;
      if (kind == GRU_BEFORE) {
        run_parts(gru_before_zr_part, &s);
        run_parts(gru_before_h_part, &s);
      } else {
        run_balanced(&balance_forward, panels_of(&s, s.U), forward_range, &s);
        s.cur = 1 - s.cur;
      }
    }
  }
  if (kind == LSTM) {
    float *C = extra(&s), *dst = value + (size_t)T * B * H;
    if (cell_states) memcpy(dst, C, (size_t)T * B * H * sizeof(float));
    else memcpy(dst, C + (size_t)(T - 1) * B * H, (size_t)B * H * sizeof(float));
  }
  rc = 0;
done:
  pthread_mutex_unlock(&seq_mu);
  return rc;
}

/*
 * The LSTM cell's backward on one row's units [u0, u0+un): the pre-activation
 * gradients dZ and the carried dc, in one loop without branches (it vectorises).
 */
static void lstm_grad_row(seq *s, int t, int row, int u0, int un, const float *rec) {
  int T = s->T, B = s->B, H = s->H, W = 4 * H;
  size_t n = (size_t)t * B + row;
  const float *restrict dv = s->dvalue + n * H + u0, *restrict a = acts(s) + n * W + u0;
  const float *restrict tcs = extra(s) + (size_t)T * B * H + n * H + u0;
  const float *restrict cps = t == 0 ? s->c0 + (size_t)row * H + u0 : extra(s) + (n - B) * H + u0;
  static const float no_dc[NR]; /* zeros: no cell-state gradient from the value */
  const float *restrict dcs = s->cell_states && t < T - 1
                                  ? s->dvalue + ((size_t)(T + t) * B + row) * H + u0
                                  : no_dc;
  float *restrict dz = s->dZx + n * W + u0, *restrict cr = s->carry + (size_t)row * H + u0;
  int uu = 0;
  /* 16 units at a time as vectors: the compiler kept the loop below scalar */
  for (; uu + 16 <= un; uu += 16) {
    v16 dh = ldv(dv + uu) + ldv(rec + uu), dc = ldv(cr + uu) + ldv(dcs + uu);
    v16 i = ldv(a + uu), f = ldv(a + H + uu), o = ldv(a + 2 * H + uu), g = ldv(a + 3 * H + uu);
    v16 tc = ldv(tcs + uu), cp = ldv(cps + uu);
    dc += dh * o * (1.0f - tc * tc);
    stv(dz + uu, dc * g * i * (1.0f - i));
    stv(dz + H + uu, dc * cp * f * (1.0f - f));
    stv(dz + 2 * H + uu, dh * tc * o * (1.0f - o));
    stv(dz + 3 * H + uu, dc * i * (1.0f - g * g));
    stv(cr + uu, dc * f);
  }
  for (; uu < un; uu++) { /* the same arithmetic on the units left over */
    float dh = dv[uu] + rec[uu], dc = cr[uu] + dcs[uu];
    float i = a[uu], f = a[H + uu], o = a[2 * H + uu], g = a[3 * H + uu];
    float tc = tcs[uu], cp = cps[uu];
    dc += dh * o * (1.0f - tc * tc);
    dz[uu] = dc * g * i * (1.0f - i);
    dz[H + uu] = dc * cp * f * (1.0f - f);
    dz[2 * H + uu] = dh * tc * o * (1.0f - o);
    dz[3 * H + uu] = dc * i * (1.0f - g * g);
    cr[uu] = dc * f;
  }
}

/*
 * An LSTM block's backward: lstm_grad_row for its m rows, then the block's dZ
 * [m, 4 gates x un units] into the next step's packed operand, MR rows per
 * column (one apack() index per value cost more than the arithmetic).
 */
static void lstm_grad_block(seq *s, int t, int ib, int m, int u0, int un, const float *tmp,
                            float *Aout) {
  int H = s->H, W = 4 * H;
  for (int r = 0; r < m; r++) lstm_grad_row(s, t, ib * MR + r, u0, un, tmp + r * NR);
  const float *dz = s->dZh + ((size_t)t * s->B + ib * MR) * W + u0;
  for (int g = 0; g < 4; g++) {
    float *dst = Aout + ((size_t)ib * W + g * H + u0) * MR;
    for (int uu = 0; uu < un; uu++)
      for (int r = 0; r < m; r++) dst[(size_t)uu * MR + r] = dz[(size_t)r * W + g * H + uu];
  }
}

/*
 * Backward step t on the tiles of panels [plo, phi) (NR units each) and row blocks
 * [blo, bhi): dhRec = dZh_{t+1} Wh^T from Apack[cur], then the cell's gradients,
 * dZh_t packed into Apack[1 - cur].
 */
static void backward_tiles(seq *s, int t, int cur, int plo, int phi, int blo, int bhi) {
  int T = s->T, B = s->B, H = s->H, W = s->G * H;
  const float *Ain = s->Apack[cur];
  float *Aout = s->Apack[1 - cur], *A = acts(s), *E = extra(s);
  float tmp[MR * NR];
  for (int p = plo; p < phi; p++) {
    int u0 = p * NR, un = H - u0 < NR ? H - u0 : NR;
    for (int ib = blo; ib < bhi; ib++) {
      if (t < T - 1)
        micro(W, Ain + (size_t)ib * W * MR, s->WhTP + (size_t)p * W * NR, tmp, NR, MR, NR, 0);
      else
        memset(tmp, 0, sizeof tmp);
      int m = B - ib * MR < MR ? B - ib * MR : MR;
      if (s->kind == LSTM) {
        lstm_grad_block(s, t, ib, m, u0, un, tmp, Aout);
        continue;
      }
      for (int r = 0; r < m; r++) {
        int row = ib * MR + r;
        size_t n = (size_t)t * B + row;
        const float *dv = s->dvalue + n * H, *rec = tmp + r * NR, *a = A + n * W;
        const float *hp = hprev_row(s, t, row);
        float *dzx = s->dZx + n * W, *dzh = s->dZh + n * W;
        for (int uu = 0; uu < un; uu++) {
          int u = u0 + uu;
          float dh = dv[u] + rec[uu];
          if (s->kind == GRU_AFTER) {
            dh += s->carry2[(size_t)row * H + u];
            float zg = a[u], rg = a[H + u], nc = a[2 * H + u], hn = E[n * H + u];
            float dan = dh * (1.0f - zg) * (1.0f - nc * nc);
            dzx[u] = dzh[u] = dh * (hp[u] - nc) * zg * (1.0f - zg);
            dzx[H + u] = dzh[H + u] = dan * hn * rg * (1.0f - rg);
            dzx[2 * H + u] = dan;
            dzh[2 * H + u] = dan * rg;
            s->carry2[(size_t)row * H + u] = dh * zg;
          } else {
            float h = s->value[n * H + u];
            dzx[u] = s->kind == RNN_TANH ? dh * (1.0f - h * h) : (h > 0.0f ? dh : 0.0f);
          }
          for (int g = 0; g < s->G; g++) Aout[apack(row, g * H + u, W)] = dzh[g * H + u];
        }
      }
    }
  }
}

/* One backward step on tiles [lo, hi): tile i is panel i / blocks, row block i % blocks. */
static void backward_range(void *ctx, int part, int lo, int hi) {
  (void)part;
  seq *s = ctx;
  int nb = blocks_of(s);
  /* a range is whole panels but for its first and last: each run of one panel's blocks at once */
  for (int i = lo; i < hi;) {
    int p = i / nb, ib = i % nb, end = (p + 1) * nb < hi ? (p + 1) * nb : hi;
    backward_tiles(s, s->t, s->cur, p, p + 1, ib, ib + (end - i));
    i = end;
  }
}

/* Every backward step of this part's row blocks (see split_rows). */
static void backward_rows_part(void *ctx, int part, int parts) {
  seq *s = ctx;
  int lo, hi;
  share(blocks_of(s), part, parts, &lo, &hi);
  for (int t = s->T - 1, cur = 0; t >= 0; t--, cur = 1 - cur)
    backward_tiles(s, t, cur, 0, panels_of(s, NR), lo, hi);
}

/*
 * dh0 = dZh_0 Wh^T for this part's panels (NR units), from the operands the
 * backward steps already packed (dZh_0 in Apack[cur], Wh^T in WhTP), over the
 * same k-chunks in the same order as gemm(), so to the bit its result: gemm
 * packed Wh^T again, from Wh's columns (0.4 ms a call at 1 thread).
 */
static void dh0_part(void *ctx, int part, int parts) {
  seq *s = ctx;
  int B = s->B, H = s->H, W = s->G * H, lo, hi;
  share(panels_of(s, NR), part, parts, &lo, &hi);
  const float *A = s->Apack[s->cur];
  for (int p = lo; p < hi; p++) {
    int n = H - p * NR < NR ? H - p * NR : NR;
    for (int ib = 0; ib < blocks_of(s); ib++) {
      int m = B - ib * MR < MR ? B - ib * MR : MR;
      for (int k0 = 0; k0 < W; k0 += KC)
        micro(W - k0 < KC ? W - k0 : KC, A + ((size_t)ib * W + k0) * MR,
              s->WhTP + ((size_t)p * W + k0) * NR, s->dh0 + (size_t)ib * MR * H + p * NR, H, m, n,
              k0 > 0);
    }
  }
}

/* Column sums of rows [0, N) of M [N, ld] into out[W] (added to when acc). */
static void col_sums(const float *M, int N, int W, int ld, float *out, int acc) {
  if (!acc) memset(out, 0, (size_t)W * sizeof(float));
  for (int n = 0; n < N; n++)
    for (int j = 0; j < W; j++) out[j] += M[(size_t)n * ld + j];
}

/* acc[0, n) += x[0, n). */
static inline void add_row(float *restrict acc, const float *restrict x, size_t n) {
  for (size_t j = 0; j < n; j++) acc[j] += x[j];
}

/*
 * The input side's sums: db (dZx's column sums) and, with a table, dP. Zeroed
 * here (db unless acc), filled by the state gradients' products as they pack
 * dZh (see b_sums) or, for a reset-after GRU (whose dZh is not dZx), by a pass
 * of their own. Returns the sums for those products, or NULL when memory ran out.
 */
static const b_sums *input_sums(seq *s, b_sums *bs) {
  int W = s->G * s->H, V = s->V;
  if (s->ids) {
    s->dP = kept(KEPT_DP, (size_t)(V > 0 ? V : 1) * W);
    if (!s->dP) return NULL;
    memset(s->dP, 0, (size_t)V * W * sizeof(float));
  }
  if (!s->acc) memset(s->db, 0, (size_t)W * sizeof(float));
  *bs = (b_sums){s->db, s->dP, s->ids, V, W};
  return bs;
}

/* input_sums' pass of its own: db and dP for this part's columns (runs of 16), rows in order. */
static void input_sums_range(void *ctx, int part, int lo, int hi) {
  (void)part;
  seq *s = ctx;
  int N = s->T * s->B, W = s->G * s->H;
  int j0 = lo * 16, j1 = hi * 16 < W ? hi * 16 : W;
  if (j0 >= j1) return;
  size_t w = (size_t)(j1 - j0);
  for (int n = 0; n < N; n++) {
    const float *z = s->dZx + (size_t)n * W + j0;
    add_row(s->db + j0, z, w);
    if (s->dP && in_table(s->ids[n], s->V)) add_row(s->dP + (size_t)s->ids[n] * W + j0, z, w);
  }
}

/* dWx and dX from dZx (with a table: from dP, its rows summed by id). */
static void input_products(seq *s) {
  int T = s->T, B = s->B, D = s->D, H = s->H, W = s->G * H, N = T * B, V = s->V;
  const float *dZ = s->dZx;
  if (!s->ids) {
    gemm(1, 0, D, W, N, s->X, D, dZ, W, s->dWx, W, s->acc);  /* X^T dZ */
    gemm(0, 1, N, D, W, dZ, W, s->Wx, W, s->dX, D, 0);  /* dZ Wx^T */
    return;
  }
  gemm(1, 0, D, W, V, s->X, D, s->dP, W, s->dWx, W, s->acc); /* table^T dP */
  gemm(0, 1, V, D, W, s->dP, W, s->Wx, W, s->dX, D, 0); /* dP Wx^T */
}

/*
 * dWh = Hsrc^T dZh, Hsrc = [h0; h_0 .. h_{T-2}] (columns col0.. of width w; src: states),
 * taking `sums` (NULL: none) of those columns of dZh as it packs them.
 */
static void state_grads(seq *s, const float *first, const float *rest, int col0, int w,
                        const b_sums *sums) {
  int T = s->T, B = s->B, H = s->H, W = s->G * H;
  b_sums head, tail;
  if (sums) {
    head = (b_sums){sums->cols + col0, sums->by_id ? sums->by_id + col0 : NULL, sums->ids,
                    sums->V, sums->ld};
    tail = head;
    if (tail.ids) tail.ids += B;
  }
  gemm_summing(1, 0, H, w, B, first, H, s->dZh + col0, W, s->dWh + col0, W, s->acc,
               sums ? &head : NULL);
  if (T > 1)
    gemm_summing(1, 0, H, w, (T - 1) * B, rest, H, s->dZh + (size_t)B * W + col0, W,
                 s->dWh + col0, W, 1, sums ? &tail : NULL);
}

static void gru_before_step(seq *s, float *G, float *Q);

/*
 * Backward pass of rnn_seq_forward (same arguments), from dvalue (the gradient of
 * value). Writes dX ([T*B, D], or [V, D] for a table), dWx, dWh, db, dbhh (GRU reset
 * after), dh0, dc0 (LSTM); with acc, adds the weight gradients (dWx, dWh, db, dbhh)
 * to what those arrays hold (a decoder stepped one step at a time sums its steps'
 * gradients there, without a pass per step). Returns 0, or -1 when memory ran out.
 */
int rnn_seq_backward(int kind, int T, int B, int D, int H, int V, const float *X, const float *ids,
                     const float *Wx, const float *Wh, const float *bhh, const float *h0,
                     const float *c0, int cell_states, const float *value, const float *work,
                     const float *dvalue, float *dX, float *dWx, float *dWh, float *db, float *dbhh,
                     float *dh0, float *dc0, int acc) {
  seq s = {0};
  s.kind = kind, s.T = T, s.B = B, s.D = D, s.H = H, s.V = V, s.G = gates_of(kind);
  s.U = NR / s.G, s.cell_states = cell_states;
  s.X = X, s.ids = ids, s.Wx = Wx, s.Wh = Wh, s.bhh = bhh, s.h0 = h0, s.c0 = c0;
  s.value = (float *)value, s.work = (float *)work, s.dvalue = dvalue;
  s.dX = dX, s.dWx = dWx, s.dWh = dWh, s.db = db, s.dbhh = dbhh, s.dh0 = dh0, s.dc0 = dc0;
  s.acc = acc;
  int W = s.G * H, N = T * B, blocks = (B + MR - 1) / MR, rc = -1;
  size_t na = (size_t)blocks * MR * W;
  pthread_mutex_lock(&seq_mu);
  s.Apack[0] = kept_zero(KEPT_A0, na);
  s.Apack[1] = kept_zero(KEPT_A1, na);
  s.dZx = kept(KEPT_DZX, (size_t)N * W);
  /* only a reset-after GRU's recurrent side differs (its candidate's gradient is scaled by r) */
  s.dZh = kind == GRU_AFTER ? kept(KEPT_DZH, (size_t)N * W) : s.dZx;
  s.carry = kept_zero(KEPT_CARRY, (size_t)B * H);
  s.carry2 = kept_zero(KEPT_CARRY2, (size_t)B * H);
  int panels = (H + NR - 1) / NR;
  s.WhTP = kept(KEPT_WP, (size_t)panels * W * NR);
  if (!s.Apack[0] || !s.Apack[1] || !s.dZx || !s.dZh || !s.carry || !s.carry2 || !s.WhTP) goto done;
  /* Wh^T [W, H] in panels of NR units (for GRU before: only its z, r columns are used). */
  run_parts(pack_wht_part, &s);
  if (kind == LSTM)
    memcpy(s.carry, dvalue + (size_t)(cell_states ? 2 * T - 1 : T) * B * H,
           (size_t)B * H * sizeof(float));
  s.cur = 0;
  if (kind == GRU_BEFORE) {
    float *GQ = malloc((size_t)2 * B * H * sizeof(float));
    if (!GQ) goto done;
    for (int t = T - 1; t >= 0; t--) {
      s.t = t;
      gru_before_step(&s, GQ, GQ + (size_t)B * H);
    }
    free(GQ);
  } else if (split_rows(&s, BACKWARD_ROWS_PER_PART)) {
    run_parts(backward_rows_part, &s);
  } else {
    for (int t = T - 1; t >= 0; t--) {
      s.t = t;
      run_balanced(&balance_backward, panels_of(&s, NR) * blocks_of(&s), backward_range, &s);
      s.cur = 1 - s.cur;
    }
  }
  /* dh0 = dZh_0 Wh^T (+ the direct terms) */
  if (kind == GRU_BEFORE) {
    memcpy(dh0, s.carry2, (size_t)B * H * sizeof(float));
  } else {
    s.cur = T % 2; /* the buffer the last step (t = 0) packed dZh_0 into */
    run_parts(dh0_part, &s);
    if (kind == GRU_AFTER)
      for (size_t i = 0; i < (size_t)B * H; i++) dh0[i] += s.carry2[i];
  }
  if (kind == LSTM) memcpy(dc0, s.carry, (size_t)B * H * sizeof(float));
  b_sums bs;
  const b_sums *sums = input_sums(&s, &bs);
  if (!sums) goto done;
  if (kind == GRU_AFTER) { /* its dZh is not dZx */
    run_balanced(&balance_sums, (W + 15) / 16, input_sums_range, &s);
    sums = NULL;
  }
  if (kind == GRU_BEFORE) {
    state_grads(&s, h0, value, 0, 2 * H, sums);
    const float *RH = extra(&s);
    b_sums candidate;
    if (sums) {
      candidate = *sums;
      candidate.cols += 2 * H;
      if (candidate.by_id) candidate.by_id += 2 * H;
    }
    gemm_summing(1, 0, H, H, N, RH, H, s.dZh + 2 * H, W, dWh + 2 * H, W, acc,
                 sums ? &candidate : NULL);
  } else {
    state_grads(&s, h0, value, 0, W, sums);
  }
  input_products(&s);
  if (kind == GRU_AFTER) col_sums(s.dZh + 2 * H, N, H, W, dbhh, acc);
  rc = 0;
done:
  pthread_mutex_unlock(&seq_mu);
  return rc;
}

typedef struct {
  seq *s;
  int k0, K;
  float *out;
} gru_product_job;

/* This part's panels of gru_before_product. */
static void gru_product_part(void *ctx, int part, int parts) {
  const gru_product_job *j = ctx;
  const seq *s = j->s;
  int B = s->B, H = s->H, W = 3 * H, blocks = (B + MR - 1) / MR, lo, hi;
  share((H + NR - 1) / NR, part, parts, &lo, &hi);
  for (int p = lo; p < hi; p++) {
    int n = H - p * NR < NR ? H - p * NR : NR;
    const float *Bp = s->WhTP + ((size_t)p * W + j->k0) * NR;
    for (int ib = 0; ib < blocks; ib++) {
      int m = B - ib * MR < MR ? B - ib * MR : MR;
      micro(j->K, s->Apack[0] + (size_t)ib * j->K * MR, Bp, j->out + (size_t)ib * MR * H + p * NR,
            H, m, n, 0);
    }
  }
}

/*
 * out [B, H] = dZh_t[:, k0, k0+K) Wh[:, k0, k0+K)^T, from Wh^T packed once for
 * the whole backward pass (WhTP; a gemm() call packed its transpose again at
 * every step) and this step's rows of dZh already packed (Apack[0], by
 * gru_before_rows_part).
 */
static void gru_before_product(seq *s, int k0, int K, float *out) {
  gru_product_job j = {s, k0, K, out};
  run_parts(gru_product_part, &j);
}

/* One phase of a reset-before GRU backward step on this part's rows (whole MR blocks). */
typedef struct {
  seq *s;
  int phase;
  float *G, *Q;
} gru_rows_job;

/*
 * Phase 0: daz, dan and dh of each row, then the rows' dan packed for the
 * product with Whh^T. Phase 1: dar from g = dan Whh^T, then the rows' [daz,
 * dar] packed for the product with Wzr^T. Phase 2: dh_prev. Each row's
 * values depend on that row alone: the same for any thread count.
 */
static void gru_before_rows_part(void *ctx, int part, int parts) {
  const gru_rows_job *j = ctx;
  seq *s = j->s;
  int t = s->t, B = s->B, H = s->H, W = 3 * H, blo, bhi;
  share((B + MR - 1) / MR, part, parts, &blo, &bhi);
  int r0 = blo * MR, r1 = bhi * MR < B ? bhi * MR : B;
  if (r0 >= r1) return;
  float *A = acts(s);
  size_t n0 = (size_t)t * B;
  const float *dZt = s->dZx + n0 * W;
  if (j->phase == 0) {
    float carried = t < s->T - 1 ? 1.0f : 0.0f; /* the last step has no dh from a later one */
    for (int row = r0; row < r1; row++) {
      size_t n = n0 + row;
      const float *restrict dv = s->dvalue + n * H, *restrict a = A + n * W;
      const float *restrict hp = hprev_row(s, t, row), *restrict c2 = s->carry2 + (size_t)row * H;
      float *restrict dz = s->dZx + n * W, *restrict dhs = s->carry + (size_t)row * H;
      for (int u = 0; u < H; u++) {
        float dh = dv[u] + carried * c2[u];
        float zg = a[u], nc = a[2 * H + u];
        dz[u] = dh * (hp[u] - nc) * zg * (1.0f - zg);
        dz[2 * H + u] = dh * (1.0f - zg) * (1.0f - nc * nc);
        dhs[u] = dh;
      }
    }
    pack_a_blocks(0, dZt + 2 * H, W, B, blo, bhi, 0, H, s->Apack[0] + (size_t)blo * H * MR);
  } else if (j->phase == 1) {
    for (int row = r0; row < r1; row++) {
      size_t n = n0 + row;
      const float *restrict a = A + n * W, *restrict hp = hprev_row(s, t, row);
      const float *restrict g = j->G + (size_t)row * H;
      float *restrict dz = s->dZx + n * W;
      for (int u = 0; u < H; u++) dz[H + u] = g[u] * hp[u] * a[H + u] * (1.0f - a[H + u]);
    }
    pack_a_blocks(0, dZt, W, B, blo, bhi, 0, 2 * H, s->Apack[0] + (size_t)blo * 2 * H * MR);
  } else {
    for (int row = r0; row < r1; row++) {
      const float *restrict a = A + (n0 + row) * W, *restrict g = j->G + (size_t)row * H;
      const float *restrict q = j->Q + (size_t)row * H, *restrict dhs = s->carry + (size_t)row * H;
      float *restrict c2 = s->carry2 + (size_t)row * H;
      for (int u = 0; u < H; u++) c2[u] = dhs[u] * a[u] + g[u] * a[H + u] + q[u];
    }
  }
}

/*
 * GRU with the reset gate before the product, one backward step (rows shared
 * among the threads, then the products). With z = σ(az), r = σ(ar),
 * n = tanh(an), an = xn + (r h) Whh, h' = z h + (1 - z) n:
 *   dan = dh (1 - z)(1 - n^2), daz = dh (h - n) z (1 - z),
 *   g = dan Whh^T, dar = g h r (1 - r), dh_prev = dh z + g r + [daz, dar] Wzr^T.
 */
static void gru_before_step(seq *s, float *G, float *Q) {
  int H = s->H;
  gru_rows_job j = {s, 0, G, Q};
  run_parts(gru_before_rows_part, &j);
  gru_before_product(s, 2 * H, H, G);
  j.phase = 1;
  run_parts(gru_before_rows_part, &j);
  gru_before_product(s, 0, 2 * H, Q);
  j.phase = 2;
  run_parts(gru_before_rows_part, &j);
}

/* ----------------------------------------------------------- optimizers */

/* Adam (tfjs's formula, epsilon outside the square root) on n values, in place. */
void rnn_adam(long n, float *p, const float *g, float *m, float *v, double lr, double beta1,
              double beta2, double eps, float acc_beta1, float acc_beta2, float gscale) {
  double r1 = 1.0 / (double)(1.0f - acc_beta1), r2 = 1.0 / (double)(1.0f - acc_beta2);
  for (long i = 0; i < n; i++) {
    float gs = g[i] * gscale; /* float32, as a clip's tf.mul(g, scale) rounds it */
    double gi = gs;
    double mi = (double)m[i] * beta1 + gi * (1.0 - beta1);
    double vi = (double)v[i] * beta2 + gi * gi * (1.0 - beta2);
    p[i] = (float)(p[i] - lr * (mi * r1) / (sqrt(vi * r2) + eps));
    m[i] = (float)mi;
    v[i] = (float)vi;
  }
}

/*
 * Plain SGD on n values, in place: p += (-lr) (g gscale), rounded as tfjs rounds
 * it (a clip's product, the step's product, then the sum: no fused multiply-add).
 */
__attribute__((optimize("fp-contract=off"))) void rnn_sgd(long n, float *p, const float *g,
                                                          float lr, float gscale) {
#ifdef __clang__
#pragma clang fp contract(off) /* clang ignores the attribute */
#endif
  float step = -lr;
  for (long i = 0; i < n; i++) {
    float d = step * (g[i] * gscale);
    p[i] = p[i] + d;
  }
}

/*
 * Inverted dropout's multipliers out[i] = floor(u_i + keep) / keep (0 or 1/keep,
 * in float32 as tfjs rounds them), u_i from Baagøe's Alea generator started at
 * state {s0, s1, s2, c}: the generator tf.randomUniform uses, in its order of
 * operations (no fused multiply-add), so a seed gives tfjs's own noise.
 */
__attribute__((optimize("fp-contract=off"))) void rnn_dropout_mask(long n, const double *state,
                                                                   float keep, float *out) {
#ifdef __clang__
#pragma clang fp contract(off) /* clang ignores the attribute */
#endif
  double s0 = state[0], s1 = state[1], s2 = state[2], c = state[3];
  for (long i = 0; i < n; i++) {
    double t = 2091639.0 * s0 + c * 2.3283064365386963e-10; /* 2^-32 */
    s0 = s1;
    s1 = s2;
    c = (double)(int32_t)t; /* t | 0: t is in [0, 2^31) */
    s2 = t - c;
    float u = (float)s2;
    out[i] = floorf(u + keep) / keep;
  }
}

/* Sum of squares of n values in double, eight running sums (so it is not one long dependency chain). */
double rnn_sum_squares(long n, const float *x) {
  double acc[8] = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k] * x[i + k];
  for (; i < n; i++) acc[0] += (double)x[i] * x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* ---------------------------------------------------------------- losses */

typedef struct {
  int C;
  const float *x;
  const int32_t *labels;
  const float *weights;
  float *probs;
  double *row_loss; /* [N] each row's weighted loss, or NULL: added into total */
  double total;
} xent_job;

/* Rows [lo, hi) of rnn_xent_forward: their probabilities and losses. */
static void xent_rows(void *ctx, int part, int lo, int hi) {
  (void)part;
  xent_job *j = ctx;
  int C = j->C;
  /* A row's exponentials, kept for its probabilities (each exp computed once); without the
   * memory, computed again (the same values). */
  double *e = malloc((size_t)(C > 0 ? C : 1) * sizeof(double));
  for (int n = lo; n < hi; n++) {
    const float *row = j->x + (size_t)n * C;
    float *out = j->probs + (size_t)n * C;
    int y = j->labels[n];
    double max = -INFINITY, sum = 0;
    for (int k = 0; k < C; k++) max = row[k] > max ? row[k] : max;
    for (int k = 0; k < C; k++) {
      double ek = exp((double)row[k] - max);
      if (e) e[k] = ek;
      sum += ek;
    }
    double inv = 1.0 / sum;
    for (int k = 0; k < C; k++) out[k] = (float)((e ? e[k] : exp((double)row[k] - max)) * inv);
    double w = j->weights ? j->weights[y] : 1.0, v = w * (max + log(sum) - row[y]);
    if (j->row_loss)
      j->row_loss[n] = v;
    else
      j->total += v;
  }
  free(e);
}

/*
 * Mean softmax cross-entropy of x [N, C] against labels [N] (weights [C] or
 * NULL: PyTorch's CrossEntropyLoss(weight)): *loss = sum_n w[y_n] * -log
 * softmax(x_n)[y_n] / sum_n w[y_n], probs [N, C] = softmax(x) for the backward
 * pass. In double, rounded once, rows summed in order (deterministic; the rows
 * are shared among the threads). Returns 0, or 1 + the first row whose label
 * is outside [0, C) (then nothing is written).
 */
int rnn_xent_forward(int N, int C, const float *x, const int32_t *labels, const float *weights,
                     float *probs, float *loss) {
  for (int n = 0; n < N; n++)
    if (labels[n] < 0 || labels[n] >= C) return n + 1;
  xent_job j = {C, x, labels, weights, probs, malloc((size_t)(N > 0 ? N : 1) * sizeof(double)), 0};
  /* Rows among the threads, each row's loss kept and added in row order (the same sum for any
   * thread count); without the memory, in order on this thread. */
  if (j.row_loss)
    run_balanced(&balance_sums, N, xent_rows, &j);
  else
    xent_rows(&j, 0, 0, N);
  double total = j.total, weight_sum = 0;
  for (int n = 0; n < N; n++) {
    if (j.row_loss) total += j.row_loss[n];
    weight_sum += weights ? weights[labels[n]] : 1.0;
  }
  free(j.row_loss);
  *loss = (float)(total / weight_sum);
  return 0;
}

/*
 * dx [N, C] = dy * w[y_n] / sum_m w[y_m] * (probs_n - onehot(y_n)), the
 * gradient of rnn_xent_forward's loss. Returns as rnn_xent_forward does.
 */
int rnn_xent_backward(int N, int C, float dy, const float *probs, const int32_t *labels,
                      const float *weights, float *dx) {
  double weight_sum = 0;
  for (int n = 0; n < N; n++) {
    if (labels[n] < 0 || labels[n] >= C) return n + 1;
    weight_sum += weights ? weights[labels[n]] : 1.0;
  }
  for (int n = 0; n < N; n++) {
    int y = labels[n];
    double scale = (double)dy * (weights ? weights[y] : 1.0) / weight_sum;
    const float *p = probs + (size_t)n * C;
    float *d = dx + (size_t)n * C;
    for (int k = 0; k < C; k++) d[k] = (float)(scale * p[k]);
    d[y] = (float)(scale * p[y] - scale);
  }
  return 0;
}

/* ---------------------------------------------------------- elementwise */

/*
 * out[i] = a[i] op b[i] for i < n, where an operand of length 1 is a scalar
 * (na, nb: 1 or n). op: 0 add, 1 sub, 2 mul.
 */
void rnn_binary(int op, long n, const float *a, long na, const float *b, long nb, float *out) {
  if (na == n && nb == n) {
    if (op == 0) for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
    else if (op == 1) for (long i = 0; i < n; i++) out[i] = a[i] - b[i];
    else for (long i = 0; i < n; i++) out[i] = a[i] * b[i];
  } else if (nb == 1) {
    float s = b[0];
    if (op == 0) for (long i = 0; i < n; i++) out[i] = a[i] + s;
    else if (op == 1) for (long i = 0; i < n; i++) out[i] = a[i] - s;
    else for (long i = 0; i < n; i++) out[i] = a[i] * s;
  } else {
    float s = a[0];
    if (op == 0) for (long i = 0; i < n; i++) out[i] = s + b[i];
    else if (op == 1) for (long i = 0; i < n; i++) out[i] = s - b[i];
    else for (long i = 0; i < n; i++) out[i] = s * b[i];
  }
}

/*
 * out = a op b with broadcasting: out has `rank` dims `shape`; astr, bstr are
 * each operand's element strides per output dim (0 where it is broadcast).
 * The last dim is the inner loop; the others are walked with a counter.
 */
void rnn_binary_bcast(int op, int rank, const int32_t *shape, const int32_t *astr,
                      const int32_t *bstr, const float *a, const float *b, float *out) {
  long inner = shape[rank - 1], outer = 1;
  for (int d = 0; d < rank - 1; d++) outer *= shape[d];
  long sa = astr[rank - 1], sb = bstr[rank - 1], ao = 0, bo = 0;
  int32_t at[8] = {0};
  for (long o = 0; o < outer; o++) {
    const float *x = a + ao, *y = b + bo;
    float *z = out + o * inner;
    if (op == 0) for (long i = 0; i < inner; i++) z[i] = x[i * sa] + y[i * sb];
    else if (op == 1) for (long i = 0; i < inner; i++) z[i] = x[i * sa] - y[i * sb];
    else for (long i = 0; i < inner; i++) z[i] = x[i * sa] * y[i * sb];
    for (int d = rank - 2; d >= 0; d--) { /* the next outer index */
      ao += astr[d], bo += bstr[d];
      if (++at[d] < shape[d]) break;
      ao -= (long)astr[d] * shape[d], bo -= (long)bstr[d] * shape[d];
      at[d] = 0;
    }
  }
}

/* out [C, R] = in [R, C] transposed, in 32x32 tiles. */
void rnn_transpose(int R, int C, const float *in, float *out) {
  for (int i0 = 0; i0 < R; i0 += 32)
    for (int j0 = 0; j0 < C; j0 += 32) {
      int i1 = i0 + 32 < R ? i0 + 32 : R, j1 = j0 + 32 < C ? j0 + 32 : C;
      for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) out[(size_t)j * R + i] = in[(size_t)i * C + j];
    }
}

/* ================================================ seq2seq: additive attention
 * One section, self-contained but for run_parts, share and tanh_f above.
 *
 * Bahdanau's additive attention (d2l §11.4) for N = B * Q query rows, row n
 * reading key set b = n / Q (its batch row), fused into one pass each way:
 *   f[n,k,:] = tanh(q[n,:] + kp[b,k,:])        q: the query through W_q [N, H]
 *   s[n,k]   = f[n,k,:] . wv                   kp: the keys through W_k [B, K, H]
 *   a[n,:]   = softmax of s[n, k < L_n], exactly 0 at k >= L_n (all 0 when L_n = 0)
 *   c[n,:]   = sum_k a[n,k] vals[b,k,:]        vals [B, K, V]
 * with L_n = lens[n] clamped to [0, K]. The output is packed per row,
 * out[n] = [c[n] (V values), a[n] (K values)], so that the op has one value.
 * Masked keys are never scored: their weight and every gradient through
 * them is exactly 0, whatever the keys hold.
 */

typedef struct {
  int B, Q, K, H, V;
  const float *q, *kp, *vals, *wv, *dout;
  const int32_t *lens;
  float *out, *dq, *dkp, *dvals, *dwv_parts;
} attn_job;

static int attn_len(const attn_job *j, int n) {
  int L = j->lens[n];
  return L < 0 ? 0 : L > j->K ? j->K : L;
}

#define ATTN_LANES 16

/*
 * sum_h x[h] * tanh(q[h] + k[h]) (k NULL: sum_h x[h] * q[h]) in ATTN_LANES
 * partial sums, added in a fixed order: a reduction the compiler vectorises
 * without -ffast-math, the same for every thread count.
 */
static float attn_dot(const float *restrict x, const float *restrict q, const float *restrict k,
                      int H) {
  float acc[ATTN_LANES] = {0};
  int h = 0;
  if (k)
    for (; h + ATTN_LANES <= H; h += ATTN_LANES)
      for (int l = 0; l < ATTN_LANES; l++) acc[l] += x[h + l] * tanh_f(q[h + l] + k[h + l]);
  else
    for (; h + ATTN_LANES <= H; h += ATTN_LANES)
      for (int l = 0; l < ATTN_LANES; l++) acc[l] += x[h + l] * q[h + l];
  float s = 0.0f;
  for (int l = 0; l < ATTN_LANES; l++) s += acc[l];
  for (; h < H; h++) s += x[h] * (k ? tanh_f(q[h] + k[h]) : q[h]);
  return s;
}

/* The score's gradient through one (row, key): dq, dk += ds wv (1 - f^2); dwv += ds f. */
static void attn_key_grad(int H, float ds, const float *restrict q, const float *restrict k,
                          const float *restrict wv, float *restrict dq, float *restrict dk,
                          float *restrict dwv) {
  for (int h = 0; h < H; h++) {
    float f = tanh_f(q[h] + k[h]), g = ds * wv[h] * (1.0f - f * f);
    dq[h] += g;
    dk[h] += g;
    dwv[h] += ds * f;
  }
}

/* y += alpha x. */
static void attn_axpy(int n, float alpha, const float *restrict x, float *restrict y) {
  for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

static void attn_forward_part(void *ctx, int part, int parts) {
  const attn_job *j = ctx;
  int lo, hi, N = j->B * j->Q, K = j->K, H = j->H, V = j->V;
  share(N, part, parts, &lo, &hi);
  for (int n = lo; n < hi; n++) {
    int b = n / j->Q, L = attn_len(j, n);
    const float *kb = j->kp + (size_t)b * K * H, *vb = j->vals + (size_t)b * K * V;
    float *c = j->out + (size_t)n * (V + K), *a = c + V;
    double max = -INFINITY, sum = 0.0;
    for (int k = 0; k < L; k++) {
      a[k] = attn_dot(j->wv, j->q + (size_t)n * H, kb + (size_t)k * H, H);
      max = a[k] > max ? a[k] : max;
    }
    for (int k = 0; k < L; k++) sum += exp((double)a[k] - max);
    for (int k = 0; k < L; k++) a[k] = (float)(exp((double)a[k] - max) / sum);
    for (int k = L; k < K; k++) a[k] = 0.0f;
    for (int v = 0; v < V; v++) c[v] = 0.0f;
    for (int k = 0; k < L; k++) attn_axpy(V, a[k], vb + (size_t)k * V, c);
  }
}

/*
 * Forward: out [B*Q, V + K] as above. q [B*Q, H], kp [B, K, H], vals [B, K, V],
 * wv [H], lens [B*Q]. Rows are shared among the threads (each row's result is
 * the same for any thread count).
 */
void rnn_attn_forward(int B, int Q, int K, int H, int V, const float *q, const float *kp,
                      const float *vals, const float *wv, const int32_t *lens, float *out) {
  attn_job j = {B, Q, K, H, V, q, kp, vals, wv, NULL, lens, out, NULL, NULL, NULL, NULL};
  run_parts(attn_forward_part, &j);
}

/* The gradient of one row n against key set b (dkp, dvals of b accumulate over its Q rows). */
static void attn_backward_row(const attn_job *j, int n, int b, float *dwv, float *dA) {
  int K = j->K, H = j->H, V = j->V, L = attn_len(j, n);
  const float *kb = j->kp + (size_t)b * K * H, *vb = j->vals + (size_t)b * K * V;
  const float *a = j->out + (size_t)n * (V + K) + V, *qn = j->q + (size_t)n * H;
  const float *dc = j->dout + (size_t)n * (V + K), *da = dc + V;
  float *dkb = j->dkp + (size_t)b * K * H, *dvb = j->dvals + (size_t)b * K * V;
  float *dqn = j->dq + (size_t)n * H;
  double weighted = 0.0;
  for (int k = 0; k < L; k++) {
    const float *vk = vb + (size_t)k * V;
    float *dvk = dvb + (size_t)k * V;
    dA[k] = da[k] + attn_dot(dc, vk, NULL, V);
    attn_axpy(V, a[k], dc, dvk);
    weighted += (double)a[k] * dA[k];
  }
  for (int k = 0; k < L; k++) {
    float ds = (float)(a[k] * (dA[k] - weighted)); /* the softmax's backward */
    attn_key_grad(H, ds, qn, kb + (size_t)k * H, j->wv, dqn, dkb + (size_t)k * H, dwv);
  }
}

static void attn_backward_part(void *ctx, int part, int parts) {
  const attn_job *j = ctx;
  int lo, hi;
  share(j->B, part, parts, &lo, &hi);
  float *dwv = j->dwv_parts + (size_t)part * (j->H + 1); /* [H] partial sums, then a done flag */
  float *dA = malloc((size_t)(j->K ? j->K : 1) * sizeof(float));
  if (!dA) return; /* the done flag stays 0: the caller reports it */
  for (int b = lo; b < hi; b++)
    for (int n = b * j->Q; n < (b + 1) * j->Q; n++) attn_backward_row(j, n, b, dwv, dA);
  free(dA);
  dwv[j->H] = 1.0f; /* this part ran to the end */
}

/*
 * Backward of rnn_attn_forward given its packed output `out` and the packed
 * gradient dout [B*Q, V + K]: writes all of dq [B*Q, H], dkp [B, K, H],
 * dvals [B, K, V] and dwv [H]. Key sets are shared among the threads; wv's
 * per-thread partial sums are added in thread order, so the result depends
 * on the thread count only. Returns 0, or 1 when out of memory.
 */
int rnn_attn_backward(int B, int Q, int K, int H, int V, const float *q, const float *kp,
                      const float *vals, const float *wv, const int32_t *lens, const float *out,
                      const float *dout, float *dq, float *dkp, float *dvals, float *dwv) {
  int parts = n_threads;
  float *partials = calloc((size_t)parts * (H + 1), sizeof(float));
  if (!partials) return 1;
  memset(dq, 0, (size_t)B * Q * H * sizeof(float));
  memset(dkp, 0, (size_t)B * K * H * sizeof(float));
  memset(dvals, 0, (size_t)B * K * V * sizeof(float));
  attn_job j = {B, Q, K, H, V, q, kp, vals, wv, dout, lens, (float *)out, dq, dkp, dvals, partials};
  run_parts(attn_backward_part, &j);
  int failed = 0;
  for (int h = 0; h < H; h++) dwv[h] = 0.0f;
  for (int p = 0; p < parts; p++) {
    const float *dp = partials + (size_t)p * (H + 1);
    failed |= dp[H] != 1.0f;
    for (int h = 0; h < H; h++) dwv[h] += dp[h];
  }
  free(partials);
  return failed;
}
