"""Job durations of banyan's synthetic cost model, reimplemented in Python for the peers.

banyan gives job (iteration) i of a run with seed S the seed
    job_seed = bn_seed_derive(S, i, BN_RNG_JOB)                 (src/search/iterate.c)
and the synthetic domain draws its duration from the stream (job_seed, 0, BN_RNG_COST)
(jobs/synthetic/cost.c):
    fixed      cost_mean
    uniform    gsl_ran_flat(cost_min, cost_max) = min * (1 - u) + max * u, u = first uniform
    lognormal  not reimplemented (GSL's polar Box-Muller); the benchmark does not use it
and cost `none` costs 0 without drawing. The SplitMix64 counter streams are those of
src/util/rng.c; GSL's uniform on banyan's adapter is bn_rng_uniform. Every peer sleeps
exactly these durations for job ids 0..n-1, in submission order. The derivation is checked
against a real banyan run (its /results: seeds exactly, t_finished - t_started within
sleep overshoot) by the `check` workload of tests/bench/peers, which every run does first.
"""

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
RNG_JOB = 2
RNG_COST = 5


def mix64(x):
    """SplitMix64 finalizer (bn_mix64)."""
    x &= MASK
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    x ^= x >> 31
    return x


def seed_derive(seed, counter, purpose):
    """bn_seed_derive(seed, counter, purpose)."""
    h = mix64(seed + GOLDEN)
    h = mix64(h ^ ((counter + 0x6A09E667F3BCC909) & MASK))
    return mix64(h ^ ((purpose * GOLDEN + 0x3C6EF372FE94F82B) & MASK))


def first_uniform(seed, counter, purpose):
    """The first bn_rng_uniform of bn_rng_stream(seed, counter, purpose): a double in [0, 1)."""
    key = seed_derive(seed, counter, purpose)
    return (mix64(key + GOLDEN) >> 11) * 2.0 ** -53


def job_seed(run_seed, job_id):
    return seed_derive(run_seed, job_id, RNG_JOB)


class CostModel:
    """domain.synthetic.cost / cost_dist / cost_mean / cost_min / cost_max."""

    def __init__(self, cost="none", dist="fixed", mean=0.01, lo=0.01, hi=0.04):
        if cost not in ("none", "sleep"):
            raise ValueError(f"cost {cost!r}: the peers sleep, so only none and sleep are comparable")
        if dist not in ("fixed", "uniform"):
            raise ValueError(f"cost_dist {dist!r} is not reimplemented here")
        self.cost, self.dist, self.mean, self.lo, self.hi = cost, dist, mean, lo, hi

    def duration(self, run_seed, job_id):
        if self.cost == "none":
            return 0.0
        if self.dist == "fixed":
            return self.mean
        u = first_uniform(job_seed(run_seed, job_id), 0, RNG_COST)
        return self.lo * (1 - u) + self.hi * u

    def durations(self, run_seed, n):
        """Durations of job ids 0..n-1, in order."""
        return [self.duration(run_seed, i) for i in range(n)]

    def banyan_sets(self):
        """The --set options that give banyan this cost model."""
        return [f"domain.synthetic.cost={self.cost}", f"domain.synthetic.cost_dist={self.dist}",
                f"domain.synthetic.cost_mean={self.mean!r}", f"domain.synthetic.cost_min={self.lo!r}",
                f"domain.synthetic.cost_max={self.hi!r}"]

    def as_dict(self):
        return {"cost": self.cost, "dist": self.dist, "mean": self.mean, "lo": self.lo, "hi": self.hi}

    @classmethod
    def from_dict(cls, d):
        return cls(d["cost"], d["dist"], d["mean"], d["lo"], d["hi"])
