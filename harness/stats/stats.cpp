#include "harness/stats/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace iomodels::harness::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Inverse of the standard normal CDF by bisection on erfc: only used for
// n > kExactMaxN, where a few ulps do not matter and a closed form would be
// one more thing to get wrong.
double normal_quantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    double cdf = 0.5 * std::erfc(-mid / std::sqrt(2.0));
    (cdf < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace

std::vector<double> signed_rank_counts(int n) {
  // Adding rank r either leaves T+ alone (negative sign) or adds r.
  std::vector<double> c(1, 1.0);
  for (int r = 1; r <= n; ++r) {
    std::vector<double> next(c.size() + static_cast<size_t>(r), 0.0);
    for (size_t t = 0; t < c.size(); ++t) {
      next[t] += c[t];
      next[t + static_cast<size_t>(r)] += c[t];
    }
    c = std::move(next);
  }
  return c;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

Interval hodges_lehmann(const std::vector<double>& d, double confidence) {
  Interval r;
  r.n = static_cast<int>(d.size());
  r.lo = -kInf;
  r.hi = kInf;
  if (d.empty()) {
    r.estimate = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  std::vector<double> walsh;
  for (size_t i = 0; i < d.size(); ++i)
    for (size_t j = i; j < d.size(); ++j) walsh.push_back((d[i] + d[j]) / 2);
  std::sort(walsh.begin(), walsh.end());
  r.estimate = median(walsh);
  const double tail = (1 - confidence) / 2;
  const size_t m = walsh.size();
  size_t k = 0;  // 1-based rank of the lower bound; 0: no finite bound
  if (r.n <= kExactMaxN) {
    auto counts = signed_rank_counts(r.n);
    const double total = std::pow(2.0, r.n);
    double below = 0;  // P(T+ < k) as k grows
    for (size_t t = 0; t < counts.size(); ++t) {
      if ((below + counts[t]) / total > tail) break;
      below += counts[t];
      k = t + 1;
    }
  } else {
    r.exact = false;
    const double nn = r.n;
    const double mean = nn * (nn + 1) / 4, sd = std::sqrt(nn * (nn + 1) * (2 * nn + 1) / 24);
    double c = mean + normal_quantile(tail) * sd;  // lower critical value of T+
    k = static_cast<size_t>(std::max(0.0, std::floor(c)));
  }
  if (k >= 1 && k <= m) {
    r.lo = walsh[k - 1];
    r.hi = walsh[m - k];
  }
  return r;
}

double signed_rank_p_greater(const std::vector<double>& d, double mu) {
  std::vector<std::pair<double, bool>> a;  // |d − mu|, positive
  for (double x : d) {
    if (!std::isfinite(x) || x == mu) continue;
    a.push_back({std::fabs(x - mu), x > mu});
  }
  if (a.empty()) return 1;
  std::sort(a.begin(), a.end());
  const size_t n = a.size();
  double t_plus = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && a[j].first == a[i].first) ++j;
    const double t = static_cast<double>(j - i);
    if (t > 1) ties = true;
    tie_term += t * t * t - t;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (a[k].second) t_plus += rank;
    i = j;
  }
  if (!ties && n <= static_cast<size_t>(kExactMaxN)) {
    auto counts = signed_rank_counts(static_cast<int>(n));
    double at_least = 0;
    for (size_t t = static_cast<size_t>(std::lround(t_plus)); t < counts.size(); ++t) at_least += counts[t];
    return std::min(1.0, at_least / std::pow(2.0, static_cast<double>(n)));
  }
  const double nn = static_cast<double>(n);
  const double mean = nn * (nn + 1) / 4;
  const double var = nn * (nn + 1) * (2 * nn + 1) / 24 - tie_term / 48;
  if (var <= 0) return 1;
  const double z = (t_plus - mean - 0.5) / std::sqrt(var);
  return std::min(1.0, 0.5 * std::erfc(z / std::sqrt(2.0)));
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adj(m);
  double running = 0;  // adjusted p-values never decrease down the order
  for (size_t i = 0; i < m; ++i) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - i) * p[order[i]]));
    adj[order[i]] = running;
  }
  return adj;
}

namespace {

// Number of arrangements of m first-sample and n second-sample values giving
// each U, by the recurrence f(m,n,u) = f(m-1,n,u-n) + f(m,n-1,u).
std::vector<double> u_counts(int m, int n) {
  std::vector<std::vector<std::vector<double>>> f(m + 1, std::vector<std::vector<double>>(n + 1));
  for (int i = 0; i <= m; ++i)
    for (int j = 0; j <= n; ++j) {
      f[i][j].assign(static_cast<size_t>(i * j + 1), 0.0);
      if (i == 0 || j == 0) {
        f[i][j][0] = 1;
        continue;
      }
      for (int u = 0; u <= i * j; ++u) {
        double a = u - j >= 0 && u - j <= (i - 1) * j ? f[i - 1][j][static_cast<size_t>(u - j)] : 0;
        double b = u <= i * (j - 1) ? f[i][j - 1][static_cast<size_t>(u)] : 0;
        f[i][j][static_cast<size_t>(u)] = a + b;
      }
    }
  return f[m][n];
}

double normal_p(double u, double n1, double n2, double tie_term) {
  double n = n1 + n2;
  double mu = n1 * n2 / 2;
  double var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (var <= 0) return 1;
  double z = std::max(0.0, std::fabs(u - mu) - 0.5) / std::sqrt(var);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

}  // namespace

MannWhitney mann_whitney(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitney r;
  const size_t n1 = a.size(), n2 = b.size();
  if (n1 == 0 || n2 == 0) return r;
  // Ranks over the pooled sample, ties get the mean rank.
  std::vector<std::pair<double, int>> all;
  for (double x : a) all.push_back({x, 0});
  for (double x : b) all.push_back({x, 1});
  std::sort(all.begin(), all.end());
  double rank_sum_a = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    double t = static_cast<double>(j - i);
    if (t > 1) ties = true;
    tie_term += t * t * t - t;
    double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) rank_sum_a += mean_rank;
    i = j;
  }
  r.u = rank_sum_a - static_cast<double>(n1 * (n1 + 1)) / 2;
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2);
  if (!ties && n1 <= 20 && n2 <= 20) {
    r.exact = true;
    auto counts = u_counts(static_cast<int>(n1), static_cast<int>(n2));
    double total = 0;
    for (double c : counts) total += c;
    int u = static_cast<int>(std::lround(r.u));
    double lo = 0, hi = 0;
    for (size_t k = 0; k < counts.size(); ++k) {
      if (static_cast<int>(k) <= u) lo += counts[k];
      if (static_cast<int>(k) >= u) hi += counts[k];
    }
    r.p = std::min(1.0, 2 * std::min(lo, hi) / total);
    r.min_p = std::min(1.0, 2 * counts[0] / total);
  } else {
    r.p = normal_p(r.u, d1, d2, tie_term);
    r.min_p = normal_p(0, d1, d2, 0);
  }
  return r;
}

std::pair<double, double> moses_ratio_interval(const std::vector<double>& base, const std::vector<double>& cur,
                                               double alpha) {
  std::vector<double> r;
  for (double b : base)
    for (double c : cur)
      if (b > 0) r.push_back(c / b);
  if (r.empty()) return {NAN, NAN};
  std::sort(r.begin(), r.end());
  const size_t m = base.size(), n = cur.size();
  size_t k = 1;  // the interval is [r_(k), r_(mn+1-k)], 1-based
  if (m <= 30 && n <= 30) {
    auto counts = u_counts(static_cast<int>(m), static_cast<int>(n));
    double total = 0, cum = 0;
    for (double c : counts) total += c;
    for (size_t u = 0; u < counts.size(); ++u) {
      cum += counts[u];
      if (cum / total > alpha / 2) break;
      k = u + 1;  // the test rejects at U <= u: cut u values from each end
    }
  } else {
    double lo = 0, hi = 10;  // bisection for z with P(|Z| > z) = alpha
    for (int i = 0; i < 60; ++i) (std::erfc((lo + hi) / 2 / std::sqrt(2.0)) > alpha ? lo : hi) = (lo + hi) / 2;
    double z = lo, mn = static_cast<double>(m * n);
    double cut = std::floor(mn / 2 - z * std::sqrt(mn * static_cast<double>(m + n + 1) / 12));
    k = cut >= 1 ? static_cast<size_t>(cut) : 1;
  }
  k = std::min(k, (r.size() + 1) / 2);
  return {r[k - 1], r[r.size() - k]};
}

}  // namespace iomodels::harness::stats
