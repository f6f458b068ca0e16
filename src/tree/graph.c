/* The rules of the search graph, stated once, on its flat arrays (bn_tree_arrays).
 *
 * Two callers: bn_tree_import checks the arrays of an untrusted checkpoint before it builds
 * a tree from them, and bn_tree_check checks the arrays of a live tree (bn__tree_export)
 * after the rules only a live tree has (marks in flight, the transposition table). The
 * rules come in two passes because the importer checks states against the domain between
 * them (a wrong terminal flag is best reported as such, not as the statistics it breaks):
 *
 *   links: counts and capacity, arrays present, flags, every id and edge range in bounds,
 *          each edge inside the range of the parent it names (so in exactly one range), no
 *          edge back to the root or to its own parent, distinct children per node,
 *          dead-child marks, action counts (each >= 1, a node's sum <= max_actions: the
 *          weights of selection), root depth, nodes without their creating edge, acyclic;
 *   stats: finite rewards and square sums some rewards could give, node visits and reward
 *          sums == those of the incoming edges (the root: results applied), out-edges
 *          carrying no more visits than the node, samples and exhaustion.
 *
 * After links, every id and range in the arrays can be followed, so every loop of stats is
 * bounded by the counts. Each pass is O(N + E) with scratch proportional to N; the first
 * violation is written to `why` with BN_ERR_CORRUPT (BN_ERR_NOMEM if scratch cannot be had).
 * Never calls the domain. */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "tree/tree_impl.h"

bn_err bn__graph_check_size(uint64_t nn, uint64_t ne, const bn__graph_rules *r, char *why,
                            size_t whylen) {
  if (nn < 1) return bn__tree_why(why, whylen, "no nodes: the root is missing");
  if (nn > r->max_nodes)
    return bn__tree_why(why, whylen,
                        "the graph has %llu nodes: needs search.max_nodes >= %llu (now %llu)",
                        BN__ULL(nn), BN__ULL(nn), BN__ULL(r->max_nodes));
  if (ne > r->max_edges)
    return bn__tree_why(why, whylen,
                        "the graph has %llu edges: needs search.max_edges >= %llu (now %llu)",
                        BN__ULL(ne), BN__ULL(ne), BN__ULL(r->max_edges));
  return BN_OK;
}

/* Per node, what the links pass learns from the edges. */
typedef struct in_links {
  uint32_t in_degree; /* incoming edges (Kahn's algorithm consumes it) */
  uint32_t stamp;     /* last parent + 1 that listed the node as a child */
  bool depth_ok;      /* some parent has depth == this depth - 1 (the one that created it) */
} in_links;

bn_err bn__graph_check_links(const bn_tree_arrays *a, const bn__graph_rules *r, bool *orphans,
                             char *why, size_t whylen) {
  const uint64_t nn = a->n_nodes, ne = a->n_edges;
  assert(r->max_nodes < UINT32_MAX); /* bn_tree_create's bound: id + 1 fits in 32 bits */
  bn_err err = bn__graph_check_size(nn, ne, r, why, whylen);
  if (err != BN_OK) return err;
  if (!a->node_visits || !a->node_reward_sum || !a->node_first_edge || !a->node_n_edges ||
      !a->node_depth || !a->node_flags || !a->node_samples)
    return bn__tree_why(why, whylen, "a node array is missing");
  if (ne && (!a->edge_parent || !a->edge_child || !a->edge_action || !a->edge_visits ||
             !a->edge_reward_sum || !a->edge_reward_sq))
    return bn__tree_why(why, whylen, "an edge array is missing");
  in_links *lk = NULL;
  uint32_t *queue = NULL;

  /* Nodes alone: flags, edge range in bounds. */
  for (uint64_t id = 0; id < nn; id++) {
    const uint8_t flags = a->node_flags[id];
    const bool term = flags & BN_NODE_TERMINAL, expd = flags & BN_NODE_EXPANDED;
    const uint32_t first = a->node_first_edge[id], n_edges = a->node_n_edges[id];
    if (flags & ~(BN_NODE_TERMINAL | BN_NODE_EXHAUSTED | BN_NODE_EXPANDED))
      BN__VIOLATION("node %llu: unknown flags %#x", BN__ULL(id), flags);
    if (term && (expd || n_edges)) BN__VIOLATION("node %llu: terminal with out-edges", BN__ULL(id));
    if (!expd && n_edges) BN__VIOLATION("node %llu: %u edges but not expanded", BN__ULL(id), n_edges);
    if ((uint64_t)first + n_edges > ne)
      BN__VIOLATION("node %llu: edges [%u, %u + %u) past the end of the %llu edges", BN__ULL(id), first,
                first, n_edges, BN__ULL(ne));
  }
  if (a->node_depth[0] != 0) BN__VIOLATION("root depth %u, not 0", a->node_depth[0]);

  lk = calloc(nn, sizeof *lk);
  queue = malloc(nn * sizeof *queue);
  BN_CHECK_GOTO(lk && queue, BN_ERR_NOMEM, "graph check scratch for %llu nodes", BN__ULL(nn));

  /* Edges alone: ids in range, inside the range of the parent they name, marks. */
  for (uint64_t e = 0; e < ne; e++) {
    const bn_node_id p = a->edge_parent[e], c = a->edge_child[e];
    if (p >= nn) BN__VIOLATION("edge %llu: parent %u out of range (%llu nodes)", BN__ULL(e), p, BN__ULL(nn));
    if (c >= nn) BN__VIOLATION("edge %llu: child %u out of range (%llu nodes)", BN__ULL(e), c, BN__ULL(nn));
    if (c == 0) BN__VIOLATION("edge %llu: leads back to the root", BN__ULL(e));
    if (c == p) BN__VIOLATION("edge %llu: leads from node %u to itself", BN__ULL(e), p);
    if (!(a->node_flags[p] & BN_NODE_EXPANDED) || e < a->node_first_edge[p] ||
        e >= (uint64_t)a->node_first_edge[p] + a->node_n_edges[p])
      BN__VIOLATION("edge %llu: not in the edge range of its parent %u", BN__ULL(e), p);
    /* Without saved marks (an import of an older file) they are derived from the children. */
    if (a->edge_flags) {
      if (a->edge_flags[e] & ~BN_EDGE_CHILD_EXHAUSTED)
        BN__VIOLATION("edge %llu: unknown flags %#x", BN__ULL(e), a->edge_flags[e]);
      if ((a->edge_flags[e] & BN_EDGE_CHILD_EXHAUSTED) &&
          !(a->node_flags[c] & BN_NODE_EXHAUSTED))
        BN__VIOLATION("edge %llu: marked as leading to an exhausted node, but node %u is not "
                  "exhausted",
                  BN__ULL(e), c);
    }
    /* Without saved counts (an import of arrays that lack them) they are derived. */
    if (a->edge_n_actions && a->edge_n_actions[e] == 0)
      BN__VIOLATION("edge %llu: no action reaches its child (action count 0)", BN__ULL(e));
    lk[c].in_degree++;
    if (a->node_depth[c] == a->node_depth[p] + 1) lk[c].depth_ok = true;
  }

  /* Nodes with their edges: a range holds only the node's own edges, children distinct.
   * With the edge pass, every edge lies in exactly one range. */
  bool orphan = false;
  for (uint64_t id = 0; id < nn; id++) {
    const uint8_t flags = a->node_flags[id];
    uint64_t n_actions = 0;
    if (flags & BN_NODE_EXPANDED)
      for (uint32_t i = 0; i < a->node_n_edges[id]; i++) {
        const uint64_t e = (uint64_t)a->node_first_edge[id] + i;
        const bn_node_id c = a->edge_child[e];
        if (a->edge_parent[e] != id)
          BN__VIOLATION("node %llu: edge %llu in its range names parent %u", BN__ULL(id), BN__ULL(e),
                    a->edge_parent[e]);
        if (lk[c].stamp == (uint32_t)id + 1)
          BN__VIOLATION("node %llu: two edges lead to child %u", BN__ULL(id), c);
        lk[c].stamp = (uint32_t)id + 1;
        if (a->edge_n_actions) n_actions += a->edge_n_actions[e];
      }
    if (n_actions > (uint64_t)r->max_actions)
      BN__VIOLATION("node %llu: its edges count %llu actions, more than the domain's %d",
                BN__ULL(id), BN__ULL(n_actions), r->max_actions);
    if (id == 0) continue;
    /* An expansion undone (store full, domain error) leaves the children it created without
     * their creating edge: no incoming edge at all, or none from a parent one level up.
     * Legitimate once an undone expansion is on record; such a node was never selected. */
    const in_links *s = &lk[id];
    if (s->in_degree == 0 &&
        ((flags & BN_NODE_EXPANDED) || a->node_samples[id] || a->node_visits[id]))
      BN__VIOLATION("node %llu: no incoming edge, yet expanded, sampled or visited", BN__ULL(id));
    if (s->in_degree == 0 && !r->orphans_allowed)
      BN__VIOLATION("node %llu: no incoming edge though no expansion ever failed", BN__ULL(id));
    if (s->in_degree > 0 && !s->depth_ok && !r->orphans_allowed)
      BN__VIOLATION("node %llu: depth %u is no parent's depth + 1", BN__ULL(id), a->node_depth[id]);
    if (s->in_degree == 0 || !s->depth_ok) orphan = true;
  }

  /* Acyclic (Kahn): repeatedly remove nodes with no incoming edge left. Each node enters the
   * queue once and each edge is followed once. */
  uint64_t head = 0, tail = 0;
  for (uint64_t id = 0; id < nn; id++)
    if (lk[id].in_degree == 0) queue[tail++] = (uint32_t)id;
  while (head < tail) {
    const uint32_t id = queue[head++];
    if (!(a->node_flags[id] & BN_NODE_EXPANDED)) continue;
    for (uint32_t i = 0; i < a->node_n_edges[id]; i++) {
      const bn_node_id c = a->edge_child[(uint64_t)a->node_first_edge[id] + i];
      if (--lk[c].in_degree == 0) queue[tail++] = c;
    }
  }
  if (tail != nn)
    BN__VIOLATION("the graph has a cycle (%llu nodes on or behind it)", BN__ULL(nn - tail));
  if (orphans) *orphans = orphan;

fail:
  free(lk);
  free(queue);
  return err;
}

/* Per node, what its incoming edges carry. */
typedef struct incoming {
  uint64_t visits;
  double reward; /* sum of the edges' reward sums */
  double abs;    /* bound on the sum of |reward| through them */
} incoming;

bn_err bn__graph_check_stats(const bn_tree_arrays *a, const bn__graph_rules *r, char *why,
                             size_t whylen) {
  const uint64_t nn = a->n_nodes, ne = a->n_edges;
  const uint32_t exhaust_after = r->exhaust_after;
  bn_err err = BN_OK;
  incoming *in = calloc(nn, sizeof *in);
  BN_CHECK_GOTO(in, BN_ERR_NOMEM, "graph check scratch for %llu nodes", BN__ULL(nn));

  /* Edges: finite, possible; their sums into the children. */
  for (uint64_t e = 0; e < ne; e++) {
    const bn_node_id c = a->edge_child[e];
    const uint64_t v = a->edge_visits[e];
    const double rs = a->edge_reward_sum[e], q = a->edge_reward_sq[e];
    if (!isfinite(rs) || !isfinite(q) || q < 0)
      BN__VIOLATION("edge %llu: reward sum %g, square sum %g", BN__ULL(e), rs, q);
    const double bound = sqrt((double)v * q); /* Cauchy-Schwarz: |sum r| <= sqrt(N sum r^2) */
    if (fabs(rs) > bound * (1 + 1e-9) + 1e-12 || (v == 0 && (rs != 0 || q != 0)))
      BN__VIOLATION("edge %llu: reward sum %g impossible with %llu visits and square sum %g",
                BN__ULL(e), rs, BN__ULL(v), q);
    incoming *s = &in[c];
    if (__builtin_add_overflow(s->visits, v, &s->visits))
      BN__VIOLATION("node %u: incoming edge visits overflow", c);
    s->reward += rs;
    s->abs += bound;
  }

  /* Nodes: samples, exhaustion, visit and reward sums. */
  for (uint64_t id = 0; id < nn; id++) {
    const uint8_t flags = a->node_flags[id];
    const bool term = flags & BN_NODE_TERMINAL, exh = flags & BN_NODE_EXHAUSTED;
    const uint32_t samples = a->node_samples[id];
    const uint64_t visits = a->node_visits[id];
    const double reward = a->node_reward_sum[id];
    if (!isfinite(reward)) BN__VIOLATION("node %llu: reward sum %g", BN__ULL(id), reward);
    if (term) {
      if (visits > samples)
        BN__VIOLATION("node %llu: %llu visits but selected only %u times", BN__ULL(id), BN__ULL(visits),
                  samples);
      if (exh != (exhaust_after > 0 && samples >= exhaust_after))
        BN__VIOLATION("node %llu: terminal selected %u times but exhausted=%d with "
                  "search.exhaust_after = %u (was it changed?)",
                  BN__ULL(id), samples, exh, exhaust_after);
    } else {
      if (samples) BN__VIOLATION("node %llu: not terminal but %u samples", BN__ULL(id), samples);
      if (exh && !(flags & BN_NODE_EXPANDED))
        BN__VIOLATION("node %llu: exhausted but never expanded", BN__ULL(id));
    }
    if (flags & BN_NODE_EXPANDED) {
      uint64_t out_visits = 0;
      for (uint32_t i = 0; i < a->node_n_edges[id]; i++) {
        const uint64_t e = (uint64_t)a->node_first_edge[id] + i;
        if (exh && !(a->node_flags[a->edge_child[e]] & BN_NODE_EXHAUSTED))
          BN__VIOLATION("node %llu: exhausted but its child %u is not", BN__ULL(id), a->edge_child[e]);
        if (__builtin_add_overflow(out_visits, a->edge_visits[e], &out_visits))
          BN__VIOLATION("node %llu: out-edge visits overflow", BN__ULL(id));
      }
      if (out_visits > visits)
        BN__VIOLATION("node %llu: out-edges carry %llu visits, the node only %llu", BN__ULL(id),
                  BN__ULL(out_visits), BN__ULL(visits));
    }
    if (id == 0) {
      if (visits != a->n_backprops)
        BN__VIOLATION("root visits %llu != %llu results applied", BN__ULL(visits), BN__ULL(a->n_backprops));
      continue;
    }
    const incoming *s = &in[id];
    if (visits != s->visits)
      BN__VIOLATION("node %llu: %llu visits but its incoming edges carry %llu", BN__ULL(id),
                BN__ULL(visits), BN__ULL(s->visits));
    const double tol = 1e-12 + 4 * DBL_EPSILON * (double)(visits + 1) * s->abs;
    if (!(fabs(reward - s->reward) <= tol))
      BN__VIOLATION("node %llu: reward sum %.17g but its incoming edges carry %.17g", BN__ULL(id),
                reward, s->reward);
  }

fail:
  free(in);
  return err;
}
