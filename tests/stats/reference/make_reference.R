# Generate reference answers from R's metafor for the analysis.stats test suite.
#
# Usage (from the repository root):
#   Rscript tests/stats/reference/make_reference.R
#
# Needs: r-cran-metafor (3.8-1 on Debian bookworm), r-cran-metadat, r-cran-jsonlite.
# Writes tests/stats/reference/cases/<case>.csv (the input data) and <case>.json
# (metafor's answers for every method x test combination) plus escalc.json.
# Everything is deterministic (fixed seed) and written with 17 significant digits,
# so the fixtures can be committed and the Python tests need no R.

suppressMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

get_script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(file_arg) == 0) return(getwd())
  dirname(normalizePath(file_arg))
}

out_dir <- file.path(get_script_dir(), "cases")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

versions <- list(
  metafor = as.character(packageDescription("metafor")$Version),
  metadat = as.character(packageVersion("metadat")),
  jsonlite = as.character(packageVersion("jsonlite")),
  R = paste(R.version$major, R.version$minor, sep = ".")
)

methods <- c("DL", "REML", "ML", "PM", "SJ", "HE", "FE")
tests <- c("z", "knha")

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

num <- function(x) {
  if (is.null(x) || length(x) == 0) return(NA_real_)
  x <- as.numeric(x)[1]
  if (!is.finite(x)) return(NA_real_)
  x
}

numvec <- function(x) {
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA_real_
  x
}

write_json_full <- function(obj, path) {
  txt <- toJSON(obj, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = FALSE)
  writeLines(txt, path)
}

# Test-based CI for I^2 (Higgins & Thompson 2002, eqs. for SE of ln H), exactly as
# R package meta computes it in calcH()/isquared() (meta is not packaged for Debian).
i2_test_based <- function(Q, df, level = 0.95) {
  k <- df + 1
  H <- sqrt(Q / (k - 1))
  selogH <- ifelse(Q > k,
                   ifelse(k >= 2, 0.5 * (log(Q) - log(k - 1)) / (sqrt(2 * Q) - sqrt(2 * k - 3)), NA),
                   ifelse(k > 2, sqrt(1 / (2 * (k - 2)) * (1 - 1 / (3 * (k - 2)^2))), NA))
  z <- qnorm(1 - (1 - level) / 2)
  h_te <- max(exp(log(H)), 1)
  h_lo <- max(exp(log(H) - z * selogH), 1)
  h_hi <- max(exp(log(H) + z * selogH), 1)
  f <- function(x) 100 * (x^2 - 1) / x^2
  list(I2 = f(h_te), lower = if (k >= 3) f(h_lo) else NA, upper = if (k >= 3) f(h_hi) else NA)
}

safe <- function(expr) {
  tryCatch(suppressWarnings(expr), error = function(e) structure(list(msg = conditionMessage(e)), class = "fail"))
}

is_fail <- function(x) inherits(x, "fail")

pool_fields <- function(res) {
  k <- res$k
  pr <- predict(res)
  tb <- i2_test_based(res$QE, k - 1)
  if (res$method == "FE") {
    # Q-profile CI of tau^2 does not depend on the tau^2 estimate except through the
    # default upper search bound max(100, 10 * tau2); for FE models tau2 = 0.
    ci <- safe(confint(rma(res$yi, res$vi, method = "DL"), control = list(tau2.max = 100)))
  } else {
    ci <- safe(confint(res))
  }
  if (is_fail(ci)) {
    qp <- c(NA, NA, NA, NA)
  } else {
    qp <- c(ci$random["I^2(%)", "ci.lb"], ci$random["I^2(%)", "ci.ub"],
            ci$random["tau^2", "ci.lb"], ci$random["tau^2", "ci.ub"])
  }
  list(
    k = k, method = res$method, test = res$test,
    estimate = num(res$beta), se = num(res$se), ci_low = num(res$ci.lb), ci_high = num(res$ci.ub),
    stat = num(res$zval), p = num(res$pval),
    tau2 = num(res$tau2), tau = num(sqrt(res$tau2)),
    I2 = num(res$I2), I2_q = num(tb$I2), H2 = num(res$H2),
    Q = num(res$QE), Q_df = k - 1, Q_p = num(res$QEp),
    pi_low = num(pr$pi.lb), pi_high = num(pr$pi.ub),
    I2_test_ci_low = num(tb$lower), I2_test_ci_high = num(tb$upper),
    I2_qprofile_ci_low = num(qp[1]), I2_qprofile_ci_high = num(qp[2]),
    tau2_ci_low = num(qp[3]), tau2_ci_high = num(qp[4]),
    weights = numvec(weights(res))
  )
}

fail_fields <- function(x) list(error = x$msg)

# find.outliers as in dmetar (Harrer et al.): a study is an outlier when its
# 95% CI (yi +/- 1.96 sqrt(vi)) does not overlap the pooled CI; refit without them.
# dmetar's refit drops 'test'; we pass it so knha models stay knha.
find_outliers <- function(res, slab) {
  lower <- res$yi - 1.96 * sqrt(res$vi)
  upper <- res$yi + 1.96 * sqrt(res$vi)
  mask <- upper < res$ci.lb | lower > res$ci.ub
  if (sum(!mask) < 2) {
    # a 'meta-analysis' of one study is not refitted (the engine refuses it)
    return(list(outliers = as.list(slab[mask]), model = list(error = "fewer than two studies remain")))
  }
  m <- safe(rma(res$yi[!mask], res$vi[!mask], method = res$method, test = res$test))
  list(outliers = as.list(slab[mask]),
       model = if (is_fail(m)) fail_fields(m) else pool_fields(m))
}

subgroup_separate <- function(yi, vi, group, method, test) {
  lev <- sort(unique(group))
  rows <- list()
  est <- se <- numeric(0)
  for (g in lev) {
    sel <- group == g
    if (sum(sel) == 1) {
      e <- yi[sel]; s <- sqrt(vi[sel]); z <- qnorm(0.975)
      rows[[length(rows) + 1]] <- list(group = g, k = 1L, estimate = e, se = s,
                                       ci_low = e - z * s, ci_high = e + z * s,
                                       tau2 = 0, I2 = NA, pi_low = NA, pi_high = NA)
    } else {
      r <- rma(yi[sel], vi[sel], method = method, test = test)
      pr <- predict(r)
      rows[[length(rows) + 1]] <- list(group = g, k = r$k, estimate = num(r$beta), se = num(r$se),
                                       ci_low = num(r$ci.lb), ci_high = num(r$ci.ub),
                                       tau2 = num(r$tau2), I2 = num(r$I2),
                                       pi_low = num(pr$pi.lb), pi_high = num(pr$pi.ub))
      e <- r$beta; s <- r$se
    }
    est <- c(est, e); se <- c(se, s)
  }
  fe <- rma(est, sei = se, method = "FE")
  list(groups = rows, Q_between = num(fe$QE), Q_between_df = length(lev) - 1, Q_between_p = num(fe$QEp),
       Q_between_df2 = NA)
}

subgroup_common <- function(yi, vi, group, method, test) {
  lev <- sort(unique(group))
  f <- factor(group, levels = lev)
  r1 <- rma(yi, vi, mods = ~ f, method = method, test = test)
  r0 <- rma(yi, vi, mods = ~ f - 1, method = method, test = test)
  pr <- predict(r0, newmods = diag(length(lev)))
  rows <- list()
  for (j in seq_along(lev)) {
    rows[[j]] <- list(group = lev[j], k = sum(group == lev[j]), estimate = num(r0$beta[j]),
                      se = num(r0$se[j]), ci_low = num(r0$ci.lb[j]), ci_high = num(r0$ci.ub[j]),
                      tau2 = num(r0$tau2), I2 = num(r0$I2),
                      pi_low = num(pr$pi.lb[j]), pi_high = num(pr$pi.ub[j]))
  }
  list(groups = rows, Q_between = num(r1$QM), Q_between_df = r1$QMdf[1],
       Q_between_p = num(r1$QMp), Q_between_df2 = num(r1$QMdf[2]))
}

run_case <- function(name, yi, vi, study = NULL, group = NULL, extra_csv = NULL, description = "") {
  k <- length(yi)
  if (is.null(study)) study <- paste0("S", seq_len(k))
  csv <- data.frame(study = study, yi = sprintf("%.17g", yi), vi = sprintf("%.17g", vi),
                    stringsAsFactors = FALSE)
  if (!is.null(group)) csv$group <- group
  write.csv(csv, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE, quote = TRUE)
  if (!is.null(extra_csv)) {
    write.csv(extra_csv, file.path(out_dir, paste0(name, "_raw.csv")), row.names = FALSE, quote = TRUE)
  }
  # re-read what was written so R and Python see identical numbers
  back <- read.csv(file.path(out_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  yi <- back$yi; vi <- back$vi

  result <- list(name = name, description = description, versions = versions, k = k,
                 pool = list(), egger = NULL, trimfill = list(), leave1out = list(),
                 outliers = list(), subgroup = list())
  eg <- if (length(unique(yi)) == 1) structure(list(msg = "identical effects"), class = "fail") else
    safe(regtest(yi, vi, model = "lm", predictor = "sei"))
  result$egger <- if (is_fail(eg) || k < 3) list(error = if (k < 3) "k < 3" else eg$msg) else
    list(k = k, stat = num(eg$zval), df = eg$dfs, p = num(eg$pval), limit_estimate = num(eg$est),
         limit_ci_low = num(eg$ci.lb), limit_ci_high = num(eg$ci.ub))
  for (m in methods) {
    for (t in tests) {
      key <- paste(m, t, sep = "_")
      res <- safe(rma(yi, vi, method = m, test = t))
      if (is_fail(res)) {
        result$pool[[key]] <- fail_fields(res)
        next
      }
      result$pool[[key]] <- pool_fields(res)
      for (est in c("L0", "R0")) {
        tf <- safe(trimfill(res, estimator = est, test = t))
        result$trimfill[[paste(key, est, sep = "_")]] <- if (is_fail(tf)) fail_fields(tf) else
          list(k0 = tf$k0, side = tf$side, k = tf$k, estimate = num(tf$beta), se = num(tf$se),
               ci_low = num(tf$ci.lb), ci_high = num(tf$ci.ub), tau2 = num(tf$tau2),
               filled_yi = numvec(tf$yi[tf$fill]), filled_vi = numvec(tf$vi[tf$fill]))
      }
      if (k >= 3) {
        l1 <- safe(leave1out(res))
        result$leave1out[[key]] <- if (is_fail(l1)) fail_fields(l1) else
          list(study = study, estimate = numvec(l1$estimate), ci_low = numvec(l1$ci.lb),
               ci_high = numvec(l1$ci.ub), tau2 = numvec(l1$tau2), I2 = numvec(l1$I2),
               Q = numvec(l1$Q))
      }
      result$outliers[[key]] <- find_outliers(res, study)
      if (!is.null(group)) {
        sg <- safe(subgroup_separate(yi, vi, group, m, t))
        result$subgroup[[paste(key, "separate", sep = "_")]] <- if (is_fail(sg)) fail_fields(sg) else sg
        sc <- safe(subgroup_common(yi, vi, group, m, t))
        result$subgroup[[paste(key, "common", sep = "_")]] <- if (is_fail(sc)) fail_fields(sc) else sc
      }
    }
  }
  write_json_full(result, file.path(out_dir, paste0(name, ".json")))
  invisible(result)
}

# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

set.seed(20240501)

# BCG vaccine trials (Colditz et al. 1994), log risk ratios
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
run_case("bcg", c(bcg$yi), c(bcg$vi), study = paste(dat.bcg$author, dat.bcg$year),
         group = as.character(dat.bcg$alloc), description = "dat.bcg, log RR via escalc")

# Normand (1999): length of stay, SMD (Hedges' g) from means/SDs
nrm <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
              data = dat.normand1999)
run_case("normand1999", c(nrm$yi), c(nrm$vi), study = dat.normand1999$source,
         extra_csv = data.frame(study = dat.normand1999$source,
                                m1i = dat.normand1999$m1i, sd1i = dat.normand1999$sd1i, n1i = dat.normand1999$n1i,
                                m2i = dat.normand1999$m2i, sd2i = dat.normand1999$sd2i, n2i = dat.normand1999$n2i),
         description = "dat.normand1999, SMD via escalc")

# Hine (1989): lidocaine mortality, risk differences
hine <- escalc(measure = "RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hine1989)
run_case("hine1989", c(hine$yi), c(hine$vi), study = dat.hine1989$source, description = "dat.hine1989, RD via escalc")

# random data sets: k studies, true tau2, within-study variances from group sizes
sim <- function(k, tau2, mu = 0.3) {
  n <- sample(10:200, k, replace = TRUE)
  vi <- 4 / n + runif(k, 0, 0.02)
  yi <- rnorm(k, mu, sqrt(vi + tau2))
  list(yi = yi, vi = vi)
}
for (k in c(2, 3, 5, 10, 30, 100)) {
  for (tau2 in c(0, 0.05, 0.5, 5)) {
    d <- sim(k, tau2)
    grp <- if (k >= 10) sample(c("A", "B", "C"), k, replace = TRUE) else NULL
    nm <- sprintf("random_k%03d_tau2_%s", k, gsub("\\.", "p", as.character(tau2)))
    run_case(nm, d$yi, d$vi, group = grp, description = sprintf("simulated k=%d tau2=%g", k, tau2))
  }
}

# tau^2 estimates to 0 for every estimator (Q well below its df)
run_case("tau2_zero", c(0.20, 0.22, 0.19, 0.21, 0.20, 0.23), c(0.04, 0.05, 0.03, 0.06, 0.05, 0.04),
         group = c("A", "A", "A", "B", "B", "B"), description = "homogeneous effects, tau2 = 0")

# one huge study dominating the weights, with a one-study subgroup
run_case("huge_study", c(0.10, 0.45, 0.60, 0.35, 0.80, 0.52, 0.05),
         c(1e-5, 0.04, 0.09, 0.05, 0.12, 0.07, 0.03),
         group = c("A", "B", "B", "B", "C", "C", "C"), description = "one study with vi = 1e-5")

# identical effects
run_case("identical", rep(0.5, 6), c(0.01, 0.02, 0.05, 0.03, 0.04, 0.02), description = "identical effects")

# near-zero sampling variances
d <- sim(8, 0.02)
run_case("near_zero_var", d$yi, c(1e-8, 5e-8, 2e-7, 1e-6, 3e-7, 8e-8, 4e-8, 6e-7),
         description = "sampling variances between 1e-8 and 1e-6")

# one-study subgroup with large heterogeneity elsewhere
run_case("subgroup_single", c(0.9, 0.1, 0.4, -0.2, 0.6, 1.4, 0.2, 0.3),
         c(0.05, 0.02, 0.03, 0.04, 0.06, 0.08, 0.02, 0.05),
         group = c("solo", "x", "x", "x", "x", "y", "y", "y"), description = "subgroup with one study")

# ---------------------------------------------------------------------------
# escalc reference
# ---------------------------------------------------------------------------

esc <- list(versions = versions)

smd_in <- data.frame(m1i = c(55, 27, 64, 10.5, 3, 0, -2.5), sd1i = c(47, 7, 17, 2.1, 1, 1, 4),
                     n1i = c(155, 31, 75, 2, 3, 12, 40), m2i = c(75, 29, 119, 9.0, 2, 0.5, -1),
                     sd2i = c(64, 4, 29, 1.7, 2, 1.5, 3), n2i = c(156, 32, 71, 2, 2, 9, 41))
s <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = smd_in)
esc$smd <- c(as.list(smd_in), list(yi = c(s$yi), vi = c(s$vi)))
md <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = smd_in)
esc$md <- c(as.list(smd_in), list(yi = c(md$yi), vi = c(md$vi)))

tab <- data.frame(ai = c(4, 6, 0, 12, 0, 5, 3), bi = c(119, 300, 20, 30, 15, 0, 40),
                  ci = c(11, 29, 3, 0, 0, 7, 3), di = c(128, 274, 18, 41, 14, 1, 40))
for (ms in c("OR", "RR", "RD")) {
  e <- escalc(ms, ai = ai, bi = bi, ci = ci, di = di, data = tab)
  esc[[tolower(ms)]] <- c(as.list(tab), list(yi = numvec(e$yi), vi = numvec(e$vi)))
}

tin <- data.frame(ti = c(2.1, -0.5, 3.7, 0.0), n1i = c(20, 35, 12, 50), n2i = c(22, 30, 15, 50))
e <- escalc("SMD", ti = ti, n1i = n1i, n2i = n2i, data = tin)
esc$smd_from_t <- c(as.list(tin), list(yi = c(e$yi), vi = c(e$vi)))

pin <- data.frame(pi = c(0.03, 0.5, 0.0001, 0.2), sign = c(1, -1, 1, -1), n1i = c(20, 35, 12, 50),
                  n2i = c(22, 30, 15, 50))
pin_t <- pin$sign * qt(pin$pi / 2, df = pin$n1i + pin$n2i - 2, lower.tail = FALSE)
e <- escalc("SMD", ti = pin_t, n1i = pin$n1i, n2i = pin$n2i)
esc$smd_from_p <- c(as.list(pin), list(yi = c(e$yi), vi = c(e$vi)))

write_json_full(esc, file.path(out_dir, "escalc.json"))
cat("metafor", versions$metafor, "reference written to", out_dir, "\n")

# ---------------------------------------------------------------------------
# dichotomous outcomes: escalc OR/RR/RD + rma (inverse variance), rma.mh, rma.peto
# ---------------------------------------------------------------------------
# Written to reference/binary/<case>.csv (study, ai, n1i, ci, n2i) and <case>.json with one
# entry per measure x method x test, each fitted with metafor's defaults:
#   rma(measure = m, ai, n1i, ci, n2i, method, test)   # escalc: add 1/2 to = "only0", drop00 = FALSE
#   rma.mh(measure = m, ai, n1i, ci, n2i)              # yi/vi with drop00 = TRUE; MH on raw counts
#   rma.peto(ai, n1i, ci, n2i)                         # idem
# A fit whose estimate metafor reports as NA (MH with no events in one arm) is written as
# {"error": ...}: the engine refuses it.

bin_dir <- file.path(get_script_dir(), "binary")
dir.create(bin_dir, showWarnings = FALSE, recursive = TRUE)

bin_fields <- function(res) {
  if (is.na(res$beta[1])) return(list(error = "metafor estimate is NA"))
  pr <- predict(res)
  random <- inherits(res, "rma.uni") && res$method != "FE"
  list(
    k = res$k, k_yi = if (is.null(res$k.yi)) res$k else res$k.yi,
    method = res$method, test = res$test,
    estimate = num(res$beta), se = num(res$se), ci_low = num(res$ci.lb), ci_high = num(res$ci.ub),
    stat = num(res$zval), p = num(res$pval),
    tau2 = num(res$tau2), I2 = num(res$I2), H2 = num(res$H2),
    Q = num(res$QE), Q_df = (if (is.null(res$k.yi)) res$k else res$k.yi) - 1, Q_p = num(res$QEp),
    pi_low = if (random) num(pr$pi.lb) else NA, pi_high = if (random) num(pr$pi.ub) else NA,
    weights = numvec(weights(res)),
    yi = numvec(res$yi.f), vi = numvec(res$vi.f)
  )
}

run_binary_case <- function(name, ai, n1i, ci, n2i, study = NULL, description = "") {
  k <- length(ai)
  if (is.null(study)) study <- paste0("S", seq_len(k))
  csv <- data.frame(study = study, ai = ai, n1i = n1i, ci = ci, n2i = n2i, stringsAsFactors = FALSE)
  write.csv(csv, file.path(bin_dir, paste0(name, ".csv")), row.names = FALSE, quote = TRUE)
  result <- list(name = name, description = description, versions = versions, k = k, fits = list())
  for (ms in c("OR", "RR", "RD")) {
    for (m in methods) {
      for (t in tests) {
        res <- safe(rma(measure = ms, ai = ai, n1i = n1i, ci = ci, n2i = n2i, method = m, test = t))
        result$fits[[paste(ms, m, t, sep = "_")]] <- if (is_fail(res)) fail_fields(res) else bin_fields(res)
      }
    }
    res <- safe(rma.mh(measure = ms, ai = ai, n1i = n1i, ci = ci, n2i = n2i))
    result$fits[[paste(ms, "MH", "z", sep = "_")]] <- if (is_fail(res)) fail_fields(res) else bin_fields(res)
  }
  res <- safe(rma.peto(ai = ai, n1i = n1i, ci = ci, n2i = n2i))
  result$fits[["OR_PETO_z"]] <- if (is_fail(res)) fail_fields(res) else bin_fields(res)
  write_json_full(result, file.path(bin_dir, paste0(name, ".json")))
  invisible(result)
}

set.seed(20261126)

# St John's wort for depression (Linde et al. 2005): responders per arm; one double-zero
# study (Osterheider 1992) and one single-zero study (Halama 1991)
lin <- dat.linde2005[!is.na(dat.linde2005$ai), ]
run_binary_case("linde2005", lin$ai, lin$n1i, lin$ci, lin$n2i, study = paste(lin$study, lin$year),
                description = "dat.linde2005, response to St John's wort vs placebo")

# BCG vaccine trials (Colditz et al. 1994): tuberculosis cases per arm
run_binary_case("bcg", dat.bcg$tpos, dat.bcg$tpos + dat.bcg$tneg, dat.bcg$cpos, dat.bcg$cpos + dat.bcg$cneg,
                study = paste(dat.bcg$author, dat.bcg$year), description = "dat.bcg, TB cases")

# random 2x2 tables: k from 2 to 25, event risks between 2% and 60%
sim_tables <- function(k, p_lo = 0.02, p_hi = 0.6) {
  n1 <- sample(8:300, k, replace = TRUE)
  n2 <- sample(8:300, k, replace = TRUE)
  p2 <- runif(k, p_lo, p_hi)
  p1 <- plogis(qlogis(p2) + rnorm(1, -0.3, 0.3) + rnorm(k, 0, 0.4))
  list(ai = rbinom(k, n1, p1), n1i = n1, ci = rbinom(k, n2, p2), n2i = n2)
}
for (k in c(2, 3, 4, 5, 7, 10, 15, 20, 25)) {
  d <- sim_tables(k)
  run_binary_case(sprintf("random_k%02d", k), d$ai, d$n1i, d$ci, d$n2i,
                  description = sprintf("simulated 2x2 tables, k=%d", k))
}

# rare events: single-zero and double-zero tables (and one table with every patient an event)
run_binary_case("zero_cells", c(0, 2, 0, 5, 1, 0, 3, 12), c(25, 40, 18, 60, 33, 20, 45, 12),
                c(3, 0, 0, 9, 4, 0, 2, 10), c(24, 41, 20, 58, 30, 22, 47, 10),
                description = "single-zero, double-zero and all-event tables")
d <- sim_tables(12, 0.01, 0.05)
run_binary_case("rare_k12", d$ai, d$n1i, d$ci, d$n2i, description = "simulated rare events, k=12")

# no events at all in the control arms: MH OR/RR are NA in metafor, RD and Peto are not
run_binary_case("control_arm_zero", c(3, 1, 4, 2, 0), c(50, 40, 60, 35, 30), c(0, 0, 0, 0, 0),
                c(48, 42, 61, 33, 31), description = "all control arms without events")
# ... and in the intervention arms
run_binary_case("treatment_arm_zero", c(0, 0, 0), c(20, 25, 30), c(2, 5, 1), c(21, 24, 30),
                description = "all intervention arms without events")

cat("metafor", versions$metafor, "dichotomous reference written to", bin_dir, "\n")
