/*
 * C-level harness of lib/native/kernels.c, built by harness_test.ts with
 * -fsanitize=address,undefined: every kernel on odd shapes (edges of the
 * 8x32 micro-kernel, 1, 2 and 3 threads), each output buffer allocated to its
 * exact size so that any write past it is an AddressSanitizer error. GEMM is
 * checked against a float64 loop. With -DHARNESS_OOB it writes one float past
 * a buffer on purpose: the negative proof that the sanitizer catches it.
 */
#define _GNU_SOURCE /* sched_setaffinity, for check_late_worker */
#include "../../lib/native/kernels.c"
#include <stdio.h>

static float *buf(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  return p;
}

static int check_gemm(int ta, int tb, int M, int N, int K) {
  float *A = buf((size_t)M * K), *B = buf((size_t)K * N), *C = buf((size_t)M * N);
  rnn_gemm(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, C, N, 0);
  int bad = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
      if (fabs(s - C[i * N + j]) > 1e-4 * (1 + fabs(s))) bad++;
    }
  free(A), free(B), free(C);
  if (bad) printf("gemm ta=%d tb=%d %dx%dx%d: %d wrong\n", ta, tb, M, N, K, bad);
  return bad;
}

static void run_sequence(int kind, int T, int B, int D, int H, int rows, int cell_states) {
  int G = gates_of(kind), V = rows ? 5 : 0;
  size_t N = (size_t)T * B, blocks = kind == LSTM ? (cell_states ? 2 * T : T + 1) : T;
  float *X = buf(rows ? (size_t)V * D : N * D), *ids = NULL;
  if (rows) {
    ids = malloc(N * sizeof(float));
    for (size_t n = 0; n < N; n++) ids[n] = (float)(n % (V + 1)); /* V: the zero row */
  }
  float *Wx = buf((size_t)D * G * H), *Wh = buf((size_t)H * G * H), *b = buf((size_t)G * H);
  float *bhh = buf(H), *h0 = buf((size_t)B * H), *c0 = buf((size_t)B * H);
  float *value = buf(blocks * B * H), *work = buf(rnn_work_size(kind, T, B, H));
  float *dv = buf(blocks * B * H), *dX = buf(rows ? (size_t)V * D : N * D);
  float *dWx = buf((size_t)D * G * H), *dWh = buf((size_t)H * G * H), *db = buf((size_t)G * H);
  float *dbhh = buf(H), *dh0 = buf((size_t)B * H), *dc0 = buf((size_t)B * H);
  if (rnn_seq_forward(kind, T, B, D, H, V, X, ids, Wx, Wh, b, bhh, h0, c0, cell_states, value,
                      work) ||
      rnn_seq_backward(kind, T, B, D, H, V, X, ids, Wx, Wh, bhh, h0, c0, cell_states, value, work,
                       dv, dX, dWx, dWh, db, dbhh, dh0, dc0, 0) ||
      /* again, adding to the weight gradients (a decoder's steps) */
      rnn_seq_backward(kind, T, B, D, H, V, X, ids, Wx, Wh, bhh, h0, c0, cell_states, value, work,
                       dv, dX, dWx, dWh, db, dbhh, dh0, dc0, 1)) {
    printf("sequence kind %d: out of memory\n", kind);
    exit(1);
  }
  for (size_t i = 0; i < blocks * B * H; i++)
    if (!isfinite(value[i])) { printf("sequence kind %d: non-finite value\n", kind); exit(1); }
  free(X), free(ids), free(Wx), free(Wh), free(b), free(bhh), free(h0), free(c0), free(value);
  free(work), free(dv), free(dX), free(dWx), free(dWh), free(db), free(dbhh), free(dh0), free(dc0);
}

/* Softmax cross-entropy on exact-size buffers against a float64 loop; bad labels refused. */
static int check_xent(int N, int C, int weighted) {
  float *x = buf((size_t)N * C), *w = weighted ? buf(C) : NULL, *p = buf((size_t)N * C);
  float *dx = buf((size_t)N * C), *loss = buf(1);
  int32_t *y = malloc((N ? N : 1) * sizeof(int32_t));
  for (int n = 0; n < N; n++) y[n] = (n * 7) % C;
  if (w) for (int k = 0; k < C; k++) w[k] += 1.0f;
  int bad = rnn_xent_forward(N, C, x, y, w, p, loss) != 0;
  bad += rnn_xent_backward(N, C, 2.0f, p, y, w, dx) != 0;
  double total = 0, wsum = 0;
  for (int n = 0; n < N; n++) {
    double m = -INFINITY, s = 0;
    for (int k = 0; k < C; k++) m = fmax(m, x[n * C + k]);
    for (int k = 0; k < C; k++) s += exp(x[n * C + k] - m);
    double wy = w ? w[y[n]] : 1;
    total += wy * (m + log(s) - x[n * C + y[n]]);
    wsum += wy;
  }
  for (int n = 0; n < N; n++) {
    double m = -INFINITY, s = 0, wy = w ? w[y[n]] : 1;
    for (int k = 0; k < C; k++) m = fmax(m, x[n * C + k]);
    for (int k = 0; k < C; k++) s += exp(x[n * C + k] - m);
    for (int k = 0; k < C; k++) {
      double g = 2.0 * wy / wsum * (exp(x[n * C + k] - m) / s - (k == y[n]));
      if (fabs(g - dx[n * C + k]) > 1e-6) bad++;
    }
  }
  if (fabs(total / wsum - loss[0]) > 1e-6 * (1 + fabs(total / wsum))) bad++;
  y[N - 1] = C;
  if (rnn_xent_forward(N, C, x, y, w, p, loss) != N || rnn_xent_backward(N, C, 1, p, y, w, dx) != N) bad++;
  y[N - 1] = -1;
  if (rnn_xent_forward(N, C, x, y, w, p, loss) != N) bad++;
  free(x), free(w), free(p), free(dx), free(loss), free(y);
  if (bad) printf("xent %dx%d weighted=%d: %d wrong\n", N, C, weighted, bad);
  return bad;
}

/*
 * Additive attention on exact-size buffers: the forward against a float64
 * loop (lengths 0, 1, K and out of range, clamped), the backward run for the
 * sanitizers with every gradient finite and exactly 0 on keys no query sees.
 */
static int check_attn(int B, int Q, int K, int H, int V) {
  int N = B * Q, bad = 0;
  float *q = buf((size_t)N * H), *kp = buf((size_t)B * K * H), *vals = buf((size_t)B * K * V);
  float *wv = buf(H), *out = buf((size_t)N * (V + K)), *dout = buf((size_t)N * (V + K));
  float *dq = buf((size_t)N * H), *dkp = buf((size_t)B * K * H), *dv = buf((size_t)B * K * V);
  float *dwv = buf(H);
  int32_t *lens = malloc((size_t)N * sizeof(int32_t));
  for (int n = 0; n < N; n++) lens[n] = n % 4 == 0 ? 0 : n % 4 == 1 ? 1 : n % 4 == 2 ? K : K + 3;
  if (N > 1) lens[N - 1] = -2;
  rnn_attn_forward(B, Q, K, H, V, q, kp, vals, wv, lens, out);
  for (int n = 0; n < N; n++) {
    int b = n / Q, L = lens[n] < 0 ? 0 : lens[n] > K ? K : lens[n];
    double s[64], m = -INFINITY, z = 0;
    for (int k = 0; k < L; k++) {
      s[k] = 0;
      for (int h = 0; h < H; h++) s[k] += wv[h] * tanh((double)q[n * H + h] + kp[(b * K + k) * H + h]);
      m = fmax(m, s[k]);
    }
    for (int k = 0; k < L; k++) z += exp(s[k] - m);
    for (int k = 0; k < K; k++) {
      double a = k < L ? exp(s[k] - m) / z : 0;
      if (fabs(a - out[n * (V + K) + V + k]) > 1e-5) bad++;
    }
    for (int u = 0; u < V; u++) {
      double c = 0;
      for (int k = 0; k < L; k++) c += exp(s[k] - m) / z * vals[(b * K + k) * V + u];
      if (fabs(c - out[n * (V + K) + u]) > 1e-5 * (1 + fabs(c))) bad++;
    }
  }
  if (rnn_attn_backward(B, Q, K, H, V, q, kp, vals, wv, lens, out, dout, dq, dkp, dv, dwv)) bad++;
  for (size_t i = 0; i < (size_t)N * H; i++) bad += !isfinite(dq[i]);
  for (size_t i = 0; i < (size_t)H; i++) bad += !isfinite(dwv[i]);
  for (int b = 0; b < B; b++) {
    int seen = 0;
    for (int n = b * Q; n < (b + 1) * Q; n++) {
      int L = lens[n] < 0 ? 0 : lens[n] > K ? K : lens[n];
      seen = L > seen ? L : seen;
    }
    for (int k = 0; k < K; k++) {
      for (int h = 0; h < H; h++) {
        float g = dkp[(b * K + k) * H + h];
        bad += !isfinite(g) || (k >= seen && g != 0.0f);
      }
      for (int u = 0; u < V; u++) {
        float g = dv[(b * K + k) * V + u];
        bad += !isfinite(g) || (k >= seen && g != 0.0f);
      }
    }
  }
  free(q), free(kp), free(vals), free(wv), free(out), free(dout), free(dq), free(dkp), free(dv);
  free(dwv), free(lens);
  if (bad) printf("attention B=%d Q=%d K=%d H=%d V=%d: %d wrong\n", B, Q, K, H, V, bad);
  return bad;
}

/* The thread that ran each part of a 2-part job. */
static pthread_t ran_by[2];

static void record_part(void *ctx, int part, int parts) {
  (void)ctx, (void)parts;
  ran_by[part] = pthread_self();
}

/*
 * A worker that starts late leaves its part to a thread that is free: with the
 * worker on the caller's core (it cannot run while the caller does), the caller
 * claims both parts of a 2-part job itself, where a part per thread would make
 * it wait for the worker every time. Returns 1 when that never happened in 50
 * jobs; 0 also where the affinity cannot be set.
 */
static int check_late_worker(void) {
  cpu_set_t saved, one;
  if (sched_getaffinity(0, sizeof saved, &saved)) return 0;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  if (sched_setaffinity(0, sizeof one, &one)) return 0;
  rnn_set_threads(2); /* the worker inherits the one core */
  int by_caller = 0;
  for (int i = 0; i < 50; i++) {
    run_parts(record_part, NULL);
    by_caller += pthread_equal(ran_by[0], pthread_self()) && pthread_equal(ran_by[1], pthread_self());
  }
  rnn_set_threads(1);
  sched_setaffinity(0, sizeof saved, &saved);
  if (!by_caller) printf("pool: the caller never took a late worker's part\n");
  return !by_caller;
}

int main(void) {
  int bad = check_late_worker();
  for (int threads = 1; threads <= 3; threads++) {
    rnn_set_threads(threads);
    /* the last two: M >= 2N, so the threads split A's row blocks (edge rows, two k-chunks) */
    int shapes[][3] = {{1, 1, 1}, {7, 33, 5}, {8, 32, 300}, {9, 65, 17}, {33, 31, 257},
                       {67, 5, 300}, {130, 33, 40}};
    for (int s = 0; s < 7; s++)
      for (int t = 0; t < 4; t++) bad += check_gemm(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2]);
    int dims[][4] = {{1, 1, 1, 1}, {3, 9, 5, 7}, {4, 2, 3, 33}, {2, 8, 4, 11}};
    for (int kind = 0; kind <= LSTM; kind++)
      for (int d = 0; d < 4; d++)
        for (int rows = 0; rows <= 1; rows++) {
          run_sequence(kind, dims[d][0], dims[d][1], dims[d][2], dims[d][3], rows, 0);
          if (kind == LSTM) run_sequence(kind, dims[d][0], dims[d][1], dims[d][2], dims[d][3], rows, 1);
        }
    float p[5] = {1, 2, 3, 4, 5}, g[5] = {1, -1, 0, 2, 3}, m[5] = {0}, v[5] = {0};
    rnn_adam(5, p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-7f, 0.9f, 0.999f, 0.5f);
    {
      /* dropout multipliers into an exact-size buffer: each 0 or 1/keep */
      double state[4] = {0.25, 0.5, 0.75, 1};
      float *mask = buf(37), keep = 0.8f;
      rnn_dropout_mask(37, state, keep, mask);
      for (int i = 0; i < 37; i++) bad += mask[i] != 0.0f && mask[i] != 1.0f / keep;
      free(mask);
    }
    float in[6] = {1, 2, 3, 4, 5, 6}, out[6];
    rnn_transpose(2, 3, in, out);
    rnn_binary(2, 6, in, 6, out, 6, out);
    {
      /* [2, 3, 4] = [2, 1, 4] op [3, 1]: strides 0 where broadcast; exact-size buffers. */
      int32_t shape[3] = {2, 3, 4}, as[3] = {4, 0, 1}, bs[3] = {0, 1, 0};
      float *a = buf(8), *b = buf(3), *o = buf(24);
      for (int op = 0; op < 3; op++) {
        rnn_binary_bcast(op, 3, shape, as, bs, a, b, o);
        for (int i = 0; i < 2; i++)
          for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
              float x = a[i * 4 + k], y = b[j], want = op == 0 ? x + y : op == 1 ? x - y : x * y;
              if (o[(i * 3 + j) * 4 + k] != want) bad++;
            }
      }
      free(a), free(b), free(o);
    }
    int xent[][2] = {{1, 1}, {3, 5}, {17, 28}, {64, 1000}};
    for (int i = 0; i < 4; i++) bad += check_xent(xent[i][0], xent[i][1], 0) + check_xent(xent[i][0], xent[i][1], 1);
    int attn[][5] = {{1, 1, 1, 1, 1}, {3, 2, 4, 5, 3}, {5, 1, 9, 17, 33}, {2, 3, 7, 40, 2}};
    for (int i = 0; i < 4; i++) bad += check_attn(attn[i][0], attn[i][1], attn[i][2], attn[i][3], attn[i][4]);
  }
#ifdef HARNESS_OOB
  float *victim = malloc(4 * sizeof(float));
  victim[4] = 1.0f; /* one past the end */
  printf("%f\n", victim[0]);
  free(victim);
#endif
  rnn_set_threads(1);
  printf(bad ? "harness: FAILED\n" : "harness: ok\n");
  return bad ? 1 : 0;
}
