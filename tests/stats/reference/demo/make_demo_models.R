# metafor's and clubSandwich's answers for the demo review's dependent-effects analyses
# (tests/analysis/test_demo_models.py).
#
# Usage (from the repository root):
#   Rscript tests/stats/reference/demo/make_demo_models.R
#
# Reads extraction/demo_data/senn2013.csv (metadat's dat.senn2013, unchanged) and writes
# demo_models.json beside this script. The effects are those of the demo's HbA1c analysis
# (make_demo_reference.R): every drug-versus-placebo comparison, mean difference (escalc
# "MD"), the three-arm Willms (1999) giving two comparisons against its placebo arm, whose
# N is split in two as the review's multi-arm rule says (Cochrane Handbook 23.3.4): 20
# effects from 19 trials. es numbers the comparisons within a trial.
#   three_level: rma.mv(yi, vi, random = ~ 1 | study/es, REML, test = "t")
#                + robust(fit, cluster = study, clubSandwich = TRUE) (CR2, Satterthwaite)
#   drug_class:  the same model with mods = ~ drug_class, model-based t tests; drug_class is
#                the demo form's study-level answer (extraction/demo.py, DRUG_CLASSES): a
#                trial whose drug arms belong to several classes (Willms 1999: metformin
#                and acarbose) is answered "Several classes (multi-arm trial)"; also with
#                CR2 (drug_class_cr2), to show why the demo keeps model-based tests.
# Every fit also has confint()'s profile-likelihood CIs of sigma2 (the page shows them).

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
data_dir <- file.path(here, "..", "..", "..", "..", "extraction", "demo_data")

classes <- c(
  metformin = "Biguanide", acarbose = "Alpha-glucosidase inhibitor",
  miglitol = "Alpha-glucosidase inhibitor", pioglitazone = "Thiazolidinedione",
  rosiglitazone = "Thiazolidinedione", sitagliptin = "DPP-4 inhibitor",
  vildagliptin = "DPP-4 inhibitor", benfluorex = "Benfluorex", sulfonylurea = "Sulfonylurea"
)
senn <- read.csv(file.path(data_dir, "senn2013.csv"), stringsAsFactors = FALSE)
rows <- list()
for (study in unique(senn$study)) {
  arms <- senn[senn$study == study, ]
  placebo <- arms[arms$treatment == "placebo", ]
  if (nrow(placebo) != 1) next
  drugs <- arms[arms$treatment != "placebo", ]
  drug_classes <- unique(classes[drugs$treatment])
  study_class <- if (length(drug_classes) == 1) drug_classes else "Several classes (multi-arm trial)"
  for (i in seq_len(nrow(drugs))) {
    rows[[length(rows) + 1]] <- data.frame(
      study = study, es = i, treatment = drugs$treatment[i], drug_class = study_class,
      m1i = drugs$mi[i], sd1i = drugs$sdi[i], n1i = drugs$ni[i],
      m2i = placebo$mi, sd2i = placebo$sdi, n2i = placebo$ni / nrow(drugs)
    )
  }
}
md <- do.call(rbind, rows)
md <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i, data = md)

num <- function(x) unname(as.numeric(x))
# I^2 split by level (Cheung 2014), as tests/stats/reference/make_models.R computes it
i2_split <- function(res) {
  W <- diag(1 / res$vi)
  X <- model.matrix(res)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  vt <- (res$k - res$p) / sum(diag(P))
  100 * res$sigma2 / (sum(res$sigma2) + vt)
}
# profile-likelihood CIs of both variance components (confint), level 3 first
sigma2_ci <- function(fit) {
  ci <- suppressWarnings(confint(fit))
  unname(lapply(ci[1:2], function(part) num(part$random[1, c("ci.lb", "ci.ub")])))
}
fields <- function(fit, rob = NULL) {
  x <- if (is.null(rob)) fit else rob
  list(
    sigma2_ci = sigma2_ci(fit),
    names = rownames(fit$beta), b = num(x$beta), se = num(x$se),
    ci_low = num(x$ci.lb), ci_high = num(x$ci.ub), stat = num(x$zval), p = num(x$pval),
    df = num(rep_len(x$ddf, length(x$beta))),
    sigma2 = num(fit$sigma2), I2_levels = num(i2_split(fit)),
    QE = num(fit$QE), QE_p = num(fit$QEp), QM = num(x$QM), QM_p = num(x$QMp),
    QM_df = num(c(x$QMdf)), logLik = num(logLik(fit)), k = fit$k,
    n_studies = length(unique(md$study))
  )
}

three <- rma.mv(yi, vi, random = ~ 1 | study/es, data = md, method = "REML", test = "t")
three_cr2 <- robust(three, cluster = md$study, clubSandwich = TRUE)
by_class <- rma.mv(yi, vi, mods = ~ drug_class, random = ~ 1 | study/es, data = md,
                   method = "REML", test = "t")
by_class_cr2 <- robust(by_class, cluster = md$study, clubSandwich = TRUE)

out <- list(
  versions = list(
    metafor = as.character(packageVersion("metafor")),
    clubSandwich = as.character(packageVersion("clubSandwich")),
    R = paste(R.version$major, R.version$minor, sep = ".")
  ),
  effects = list(study = md$study, treatment = md$treatment, drug_class = md$drug_class,
                 yi = num(md$yi), vi = num(md$vi)),
  three_level = fields(three),
  three_level_cr2 = fields(three, three_cr2),
  drug_class = fields(by_class),
  drug_class_cr2 = fields(by_class, by_class_cr2)
)
write_json(out, file.path(here, "demo_models.json"), auto_unbox = TRUE, digits = NA,
           pretty = TRUE)
cat(sprintf(paste0("Three-level MD %.4f, CR2 95%% CI %.4f to %.4f (df %.2f); sigma2 %.4f / %.4f;",
                   " drug class F(%g, %g) = %.3f, p = %.4f\n"),
            three$b, three_cr2$ci.lb, three_cr2$ci.ub, three_cr2$ddf, three$sigma2[1],
            three$sigma2[2], by_class$QMdf[1], by_class$QMdf[2], by_class$QM, by_class$QMp))
