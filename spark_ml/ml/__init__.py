"""Pure Spark ML: pipelines, time splits, metrics, drift statistics and plots (no MLflow, no I/O).

    pipeline.py    Spark ML pipelines from config: imputation, categorical indexing that keeps unseen values
    training.py    the column contract, time-window splits, class weights, feature importances
    selection.py   candidates, grid points and early stopping on the validation window; the selection rule
    driver.py      single-node candidates (sklearn_hgb, lightgbm): fitted on the driver, applied by mapInPandas
    booster.py     an xgboost.spark model loaded and applied without the JVM (a champion over Spark Connect)
    compiled.py    a binary logistic-regression pipeline as SQL columns (batch scoring without vectors)
    evaluation.py  binary classification metrics computed by Spark on full data sets, baselines from counts
    regression.py  RMSE, MAE and R² of a prediction and of the training-mean baseline, in one pass
    multiclass.py  class lists and label indexing, log loss, macro F1, accuracy, the class-prior baseline
    drift.py       population stability index (PSI) of features and scores, reference vs current
    plots.py       matplotlib figures from already-aggregated metrics (curves, residuals, confusion, PSI)

May import: transforms, config, errors, pyspark.ml, matplotlib, scikit-learn, lightgbm and xgboost (never io,
provenance, tasks, cli or mlflow).
"""
