# Reference answers for meta-regression, three-level models and cluster-robust inference.
#
# Usage (from the repository root):
#   Rscript tests/stats/reference/make_models.R
#
# Needs: r-cran-metafor (3.8-1 on Debian bookworm), r-cran-metadat, r-cran-clubsandwich,
# r-cran-jsonlite. Writes tests/stats/reference/models/<case>.csv (columns study, es, yi,
# vi and the moderators) and <case>.json with, for every combination,
#   multilevel: rma.mv(yi, vi, mods, random = ~ 1 | study/es, method, test)
#               [+ robust(fit, cluster = study, clubSandwich = TRUE)  (CR2, Satterthwaite, HTZ)]
#               [+ robust(fit, cluster = study)                       (CR1, metafor)]
#               and confint(fit) (profile-likelihood CIs of both sigma2) without robust
#   metareg:    rma(yi, vi, mods, method, test) [+ the same two robust variants]
# Every fit uses metafor's defaults (rma.mv: nlminb on log sigma2, which can stop ~1e-6
# short of the likelihood maximum that the engine finds exactly; the tests allow for that
# only where metafor's log-likelihood is lower than the engine's).
# A fit that R refuses is written as {"error": ...}.

suppressMessages({
  library(metafor)
  library(metadat)
  library(clubSandwich)
  library(jsonlite)
})

get_script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(file_arg) == 0) return(getwd())
  dirname(normalizePath(file_arg))
}

out_dir <- file.path(get_script_dir(), "models")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

versions <- list(
  metafor = as.character(packageDescription("metafor")$Version),
  metadat = as.character(packageVersion("metadat")),
  clubSandwich = as.character(packageVersion("clubSandwich")),
  jsonlite = as.character(packageVersion("jsonlite")),
  R = paste(R.version$major, R.version$minor, sep = ".")
)

numvec <- function(x) {
  if (is.null(x)) return(NA_real_)
  x <- as.numeric(x)
  x[!is.finite(x)] <- NA_real_
  x
}

safe <- function(expr) {
  tryCatch(suppressWarnings(expr), error = function(e) structure(list(msg = conditionMessage(e)), class = "fail"))
}
is_fail <- function(x) inherits(x, "fail")

write_json_full <- function(obj, path) {
  writeLines(toJSON(obj, auto_unbox = TRUE, digits = NA, na = "null", null = "null"), path)
}

mods_formula <- function(mods) {
  if (length(mods) == 0) return(~ 1)
  as.formula(paste("~", paste(mods, collapse = " + ")))
}

# I^2 split by level (Cheung 2014; metafor FAQ "I^2 for multilevel models"):
# typical sampling variance (k - p) / tr(P), P = W - W X (X'WX)^-1 X'W, W = diag(1/vi)
i2_split <- function(res) {
  W <- diag(1 / res$vi)
  X <- model.matrix(res)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  vt <- (res$k - res$p) / sum(diag(P))
  100 * res$sigma2 / (sum(res$sigma2) + vt)
}

fields <- function(res, model, rob = NULL) {
  x <- if (is.null(rob)) res else rob
  out <- list(
    names = rownames(res$beta),
    b = numvec(x$beta), se = numvec(x$se), ci_low = numvec(x$ci.lb), ci_high = numvec(x$ci.ub),
    stat = numvec(x$zval), p = numvec(x$pval),
    df = if (is.null(rob) && res$test == "z") NA else numvec(rep_len(x$ddf, length(res$beta))),
    QE = numvec(res$QE), QE_p = numvec(res$QEp),
    QM = numvec(x$QM), QM_p = numvec(x$QMp), QM_df = numvec(x$QMdf),
    logLik = numvec(logLik(res))
  )
  if (model == "multilevel") {
    out$sigma2 <- numvec(res$sigma2)
    out$tau2 <- NA
    out$I2 <- numvec(i2_split(res))
    out$R2 <- NA
  } else {
    out$sigma2 <- NA
    out$tau2 <- numvec(res$tau2)
    out$I2 <- numvec(res$I2)
    out$R2 <- if (is.null(res$R2)) NA else numvec(res$R2)
  }
  out
}

with_robust <- function(res, model, robust, dat) {
  if (robust == "none") return(fields(res, model))
  rob <- safe(if (robust == "CR2") robust(res, cluster = dat$study, clubSandwich = TRUE)
              else robust(res, cluster = dat$study))
  if (is_fail(rob)) return(list(error = rob$msg))
  fields(res, model, rob)
}

fit_mv <- function(mods, dat, method, test) {
  safe(rma.mv(yi, vi, mods = mods, random = ~ 1 | study/es, data = dat, method = method,
              test = test))
}

profile_cis <- function(res) {
  ci <- safe(confint(res))
  if (is_fail(ci)) return(list(error = ci$msg))
  lapply(ci[1:2], function(x) numvec(x$random[1, 2:3]))
}

# Rscript make_models.R [CASE ...] regenerates only the named cases (each random case draws
# from its own seed, so a partial run writes the same data as a full one).
only <- commandArgs(trailingOnly = TRUE)

run_case <- function(name, dat, mod_sets, description = "", multilevel = TRUE,
                     metareg_sets = mod_sets) {
  if (length(only) > 0 && !(name %in% only)) return(invisible(NULL))
  dat$study <- as.character(dat$study)
  csv <- data.frame(study = dat$study, es = dat$es, yi = sprintf("%.17g", dat$yi),
                    vi = sprintf("%.17g", dat$vi), stringsAsFactors = FALSE)
  all_mods <- unique(unlist(c(mod_sets, metareg_sets)))
  for (m in all_mods) csv[[m]] <- if (is.numeric(dat[[m]])) sprintf("%.17g", dat[[m]]) else dat[[m]]
  write.csv(csv, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE, quote = TRUE)
  dat <- read.csv(file.path(out_dir, paste0(name, ".csv")), stringsAsFactors = FALSE,
                  colClasses = c(study = "character"))
  result <- list(name = name, description = description, versions = versions, k = nrow(dat),
                 mod_sets = mod_sets, metareg_sets = metareg_sets,
                 multilevel = list(), confint = list(), metareg = list())
  if (multilevel) {
    for (ms in names(mod_sets)) {
      for (method in c("REML", "ML")) {
        for (test in c("z", "t")) {
          res <- fit_mv(mods_formula(mod_sets[[ms]]), dat, method, test)
          for (robust in c("none", "CR2", "CR1")) {
            key <- paste(ms, method, test, robust, sep = "_")
            result$multilevel[[key]] <- if (is_fail(res)) list(error = res$msg) else
              with_robust(res, "multilevel", robust, dat)
          }
          if (test == "z" && !is_fail(res)) {
            result$confint[[paste(ms, method, sep = "_")]] <- profile_cis(res)
          }
        }
      }
    }
  }
  for (ms in names(metareg_sets)) {
    if (length(metareg_sets[[ms]]) == 0) next
    for (method in c("REML", "ML", "DL")) {
      for (test in c("z", "knha")) {
        res <- safe(rma(yi, vi, mods = mods_formula(metareg_sets[[ms]]), data = dat,
                        method = method, test = test))
        for (robust in c("none", "CR2", "CR1")) {
          key <- paste(ms, method, test, robust, sep = "_")
          result$metareg[[key]] <- if (is_fail(res)) list(error = res$msg) else
            with_robust(res, "metareg", robust, dat)
        }
      }
    }
  }
  write_json_full(result, file.path(out_dir, paste0(name, ".json")))
  invisible(result)
}

# ---------------------------------------------------------------------------
# published data sets (metadat)
# ---------------------------------------------------------------------------

# Konstantopoulos (2011): 56 schools in 11 districts, modified school calendars
k11 <- dat.konstantopoulos2011
run_case("konstantopoulos2011",
         data.frame(study = k11$district, es = k11$school, yi = k11$yi, vi = k11$vi, year = k11$year),
         list(m0 = character(0), m1 = c("year")),
         description = "dat.konstantopoulos2011: schools (es) within districts (study)")

# Assink & Wibbelink (2016): 100 effects in 17 studies, delinquency
a16 <- dat.assink2016
run_case("assink2016",
         data.frame(study = a16$study, es = a16$esid, yi = a16$yi, vi = a16$vi, year = a16$year,
                    deltype = a16$deltype, pubstatus = a16$pubstatus),
         list(m0 = character(0), m1 = c("deltype"), m2 = c("year", "deltype", "pubstatus")),
         description = "dat.assink2016: effects (esid) within studies")

# BCG vaccine trials: one effect per trial (the two levels are not separately identified)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
run_case("bcg",
         data.frame(study = bcg$trial, es = 1, yi = c(bcg$yi), vi = c(bcg$vi), ablat = bcg$ablat,
                    year = bcg$year, alloc = bcg$alloc),
         list(m0 = character(0), m1 = c("ablat")),
         metareg_sets = list(m1 = c("ablat"), m2 = c("ablat", "year"), m3 = c("alloc"),
                             m4 = c("ablat", "alloc")),
         description = "dat.bcg with absolute latitude; every study has one effect")

# ---------------------------------------------------------------------------
# simulated data sets: studies with 1 to 8 effects, a study-level numeric moderator x and
# an effect-level factor g
# ---------------------------------------------------------------------------

sim <- function(n_studies, s3, s2, max_es = 8, beta_x = 0.2, one_effect = 0, seed) {
  set.seed(seed)
  sizes <- sample(1:max_es, n_studies, replace = TRUE)
  if (one_effect > 0) sizes[seq_len(one_effect)] <- 1
  study <- rep(seq_len(n_studies), sizes)
  es <- unlist(lapply(sizes, seq_len))
  k <- length(study)
  x <- round(rnorm(n_studies, 0, 1), 3)[study]
  g <- sample(c("alpha", "beta", "delta"), k, replace = TRUE)
  n <- sample(20:200, k, replace = TRUE)
  vi <- 4 / n + runif(k, 0, 0.01)
  u3 <- rnorm(n_studies, 0, sqrt(s3))[study]
  u2 <- rnorm(k, 0, sqrt(s2))
  yi <- 0.3 + beta_x * x + 0.1 * (g == "beta") + u3 + u2 + rnorm(k, 0, sqrt(vi))
  data.frame(study = paste0("S", study), es = es, yi = yi, vi = vi, x = x, g = g)
}

sets <- list(m0 = character(0), m1 = c("x"), m2 = c("x", "g"))
run_case("random_j10", sim(10, 0.05, 0.02, seed = 1), sets, description = "10 studies, sigma2 = (0.05, 0.02)")
run_case("random_j25", sim(25, 0.10, 0.05, one_effect = 3, seed = 2), sets,
         description = "25 studies (3 with one effect), sigma2 = (0.10, 0.05)")
run_case("random_j40_large", sim(40, 0.5, 0.2, seed = 3), sets, description = "40 studies, large sigma2 = (0.5, 0.2)")
run_case("random_j60_small", sim(60, 0.01, 0.005, max_es = 4, seed = 4), sets,
         description = "60 studies of 1-4 effects, small sigma2 = (0.01, 0.005)")

# sigma2 (level 3) estimated at zero: no between-study variance, some within
for (i in 1:50) {
  d <- sim(12, 0, 0.08, max_es = 5, beta_x = 0, seed = 100 + i)
  fit <- rma.mv(yi, vi, random = ~ 1 | study/es, data = d)
  if (fit$sigma2[1] < 1e-6) break
}
run_case("sigma2_level3_zero", d, sets, description = "between-study variance estimated at zero")

# sigma2 (level 2) estimated at zero
for (i in 1:50) {
  d <- sim(12, 0.1, 0, max_es = 5, beta_x = 0, seed = 200 + i)
  fit <- rma.mv(yi, vi, random = ~ 1 | study/es, data = d)
  if (fit$sigma2[2] < 1e-6) break
}
run_case("sigma2_level2_zero", d, sets, description = "within-study variance estimated at zero")

# two studies only: cluster-robust inference is refused once the model has 2 coefficients
run_case("two_studies", sim(2, 0.05, 0.05, max_es = 8, seed = 5), sets,
         description = "two studies: too few clusters for robust inference with a moderator")

cat("metafor", versions$metafor, "/ clubSandwich", versions$clubSandwich, "reference written to", out_dir, "\n")
