# metafor's answers for the app's model section on ratio measures (log odds ratio, log
# risk ratio): tests/analysis/test_models_measures.py builds the same studies through the
# extraction services and compares the report's model section with this file.
#
# Usage (from the repository root):
#   Rscript tests/stats/reference/measures/make_measures.R
#
# Writes beside this script:
#   binary_dependent.csv  invented data (set.seed below; not any trial's results): 10
#                         studies with 1-3 dichotomous outcomes each (events ai/ci of
#                         n1i/n2i per arm) and a study-level moderator mean_age
#   binary_dependent.json for measure OR and RR (escalc defaults), the fits
#     three_level:      rma.mv(yi, vi, random = ~ 1 | study/es, REML, test = "t")
#                       + robust(fit, cluster = study, clubSandwich = TRUE)  (CR2)
#     three_level_mods: rma.mv(yi, vi, mods = ~ mean_age, random = ~ 1 | study/es, REML, "t")
#     metareg:          rma(yi, vi, mods = ~ mean_age, REML, test = "knha") on each study's
#                       first outcome (the app's one-effect-per-study rule, no preference list)

suppressMessages({
  library(metafor)
  library(clubSandwich)
  library(jsonlite)
})

get_script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(file_arg) == 0) return(getwd())
  dirname(normalizePath(file_arg))
}
here <- get_script_dir()

set.seed(2021)
outcomes <- c("Relapse", "Admission", "Dropout")
per_study <- c(1, 2, 3, 2, 1, 3, 2, 2, 1, 3)
rows <- list()
for (j in seq_along(per_study)) {
  u <- rnorm(1, 0, 0.3)
  n1 <- sample(60:200, 1)
  n2 <- sample(60:200, 1)
  age <- round(runif(1, 25, 55), 1)
  for (e in seq_len(per_study[j])) {
    p2 <- runif(1, 0.2, 0.45)
    lor <- -0.3 + u + rnorm(1, 0, 0.4) + 0.01 * (age - 40)
    p1 <- plogis(qlogis(p2) + lor)
    rows[[length(rows) + 1]] <- data.frame(
      study = sprintf("Study %02d", j), outcome = outcomes[e], es = e,
      ai = max(1, rbinom(1, n1, p1)), n1i = n1, ci = max(1, rbinom(1, n2, p2)), n2i = n2,
      mean_age = age
    )
  }
}
dat <- do.call(rbind, rows)
write.csv(dat, file.path(here, "binary_dependent.csv"), row.names = FALSE)

num <- function(x) unname(as.numeric(x))
fit_fields <- function(fit, rob = NULL) {
  x <- if (is.null(rob)) fit else rob
  list(
    names = rownames(fit$beta), b = num(x$beta), se = num(x$se),
    ci_low = num(x$ci.lb), ci_high = num(x$ci.ub), stat = num(x$zval), p = num(x$pval),
    df = if (is.null(x$ddf)) NULL else num(rep_len(x$ddf, length(x$beta))),
    sigma2 = if (is.null(fit$sigma2)) NULL else num(fit$sigma2),
    tau2 = if (inherits(fit, "rma.mv")) NULL else num(fit$tau2),
    QE = num(fit$QE), QE_p = num(fit$QEp),
    QM = num(x$QM), QM_p = num(x$QMp), logLik = num(logLik(fit)), k = fit$k
  )
}

out <- list(versions = list(
  metafor = as.character(packageVersion("metafor")),
  clubSandwich = as.character(packageVersion("clubSandwich")),
  R = paste(R.version$major, R.version$minor, sep = ".")
))
for (measure in c("OR", "RR")) {
  d <- escalc(measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat)
  three <- rma.mv(yi, vi, random = ~ 1 | study/es, data = d, method = "REML", test = "t")
  rob <- robust(three, cluster = d$study, clubSandwich = TRUE)
  mods <- rma.mv(yi, vi, mods = ~ mean_age, random = ~ 1 | study/es, data = d,
                 method = "REML", test = "t")
  first <- d[d$es == 1, ]
  reg <- rma(yi, vi, mods = ~ mean_age, data = first, method = "REML", test = "knha")
  out[[measure]] <- list(
    yi = num(d$yi), vi = num(d$vi),
    three_level = fit_fields(three, rob),
    three_level_mods = fit_fields(mods),
    metareg = fit_fields(reg)
  )
}
write_json(out, file.path(here, "binary_dependent.json"), auto_unbox = TRUE, digits = NA,
           pretty = TRUE, null = "null")
cat(sprintf("OR three-level: %.4f (CR2 %.4f to %.4f); RR: %.4f\n", out$OR$three_level$b,
            out$OR$three_level$ci_low, out$OR$three_level$ci_high, out$RR$three_level$b))
