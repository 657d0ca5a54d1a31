# metafor's answers for the demo review's two analyses (tests/analysis/test_demo.py).
#
# Usage (from the repository root):
#   Rscript tests/stats/reference/demo/make_demo_reference.R
#
# Reads the demo's data files (extraction/demo_data/senn2013.csv and nissen2007.csv, see
# the README there) and writes demo_glucose.json beside this script:
#   hba1c: mean difference (escalc "MD"), placebo-controlled trials of dat.senn2013; the
#          three-arm Willms (1999) gives metformin and acarbose each against its placebo arm,
#          whose N is split in two (Cochrane Handbook 23.3.4); rma REML with Knapp-Hartung.
#   mi:    Peto odds ratio (rma.peto) of a myocardial infarction, the 38 trials of
#          dat.nissen2007 in type 2 diabetes (not psoriasis, Alzheimer's or prediabetes).

suppressMessages({
  library(metafor)
  library(jsonlite)
})

get_script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  file_arg <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(file_arg) == 0) return(getwd())
  dirname(normalizePath(file_arg))
}
here <- get_script_dir()
data_dir <- file.path(here, "..", "..", "..", "..", "extraction", "demo_data")

senn <- read.csv(file.path(data_dir, "senn2013.csv"), stringsAsFactors = FALSE)
rows <- list()
for (study in unique(senn$study)) {
  arms <- senn[senn$study == study, ]
  placebo <- arms[arms$treatment == "placebo", ]
  if (nrow(placebo) != 1) next
  drugs <- arms[arms$treatment != "placebo", ]
  n_control <- placebo$ni / nrow(drugs)
  for (i in seq_len(nrow(drugs))) {
    rows[[length(rows) + 1]] <- data.frame(
      study = study, treatment = drugs$treatment[i],
      m1i = drugs$mi[i], sd1i = drugs$sdi[i], n1i = drugs$ni[i],
      m2i = placebo$mi, sd2i = placebo$sdi, n2i = n_control
    )
  }
}
md <- do.call(rbind, rows)
md <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = md)
fit <- rma(yi, vi, data = md, method = "REML", test = "knha")
pred <- predict(fit)

nissen <- read.csv(file.path(data_dir, "nissen2007.csv"), stringsAsFactors = FALSE)
t2d <- nissen[!grepl("psoriasis|alzheimer|impaired glucose", nissen$population, ignore.case = TRUE), ]
peto <- rma.peto(ai = treat.infarction, n1i = treat.total, ci = cont.infarction, n2i = cont.total,
                 data = t2d)

num <- function(x) unname(as.numeric(x))
out <- list(
  versions = list(metafor = as.character(packageVersion("metafor")),
                  R = paste(R.version$major, R.version$minor, sep = ".")),
  hba1c = list(
    k = fit$k, n_studies = length(unique(md$study)),
    estimate = num(fit$b), se = num(fit$se), ci_low = num(fit$ci.lb), ci_high = num(fit$ci.ub),
    pi_low = num(pred$pi.lb), pi_high = num(pred$pi.ub),
    tau2 = num(fit$tau2), I2 = num(fit$I2), Q = num(fit$QE), Q_df = fit$k - 1,
    study = paste(md$study, md$treatment), yi = num(md$yi), vi = num(md$vi)
  ),
  mi = list(
    k = peto$k, n_trials = nrow(t2d),
    estimate = num(peto$b), se = num(peto$se), ci_low = num(peto$ci.lb), ci_high = num(peto$ci.ub),
    p = num(peto$pval), Q = num(peto$QE), Q_df = num(peto$k.yi - 1), I2 = num(peto$I2)
  )
)
write_json(out, file.path(here, "demo_glucose.json"), auto_unbox = TRUE, digits = 17, pretty = TRUE)
cat(sprintf("HbA1c MD %.4f (%.4f to %.4f), k = %d; MI Peto OR %.4f (%.4f to %.4f), k = %d\n",
            fit$b, fit$ci.lb, fit$ci.ub, fit$k, exp(peto$b), exp(peto$ci.lb), exp(peto$ci.ub), peto$k))
