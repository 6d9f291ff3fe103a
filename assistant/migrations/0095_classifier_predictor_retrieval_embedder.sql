-- Two additions of one branch (issue #18 leftovers), in one migration file.
--
-- kb.classifier_models.predictor: the active classifier in plain numpy arrays
-- (assistant/categorization/predictor.py), pickled like `model`. The bot and `kb ask`
-- load it instead of the scikit-learn model, whose unpickling imports scikit-learn and
-- SciPy (about 2 s). Null for rows stored before it existed: the first load fills it in
-- (assistant/categorization/model_store.py owns the table).
alter table kb.classifier_models add column if not exists predictor bytea;

-- kb.retrieval_configs.embedder_key: the embedder ("name@version") whose vectors a tuned
-- configuration was fitted on. Fusion weights and the no-match threshold fitted for one
-- embedder do not carry over to another, so the retriever ignores an active config of a
-- different embedder (assistant/knowledge/tuning.py owns the table). Null for configs
-- tuned before this column existed: they are kept, as before.
alter table kb.retrieval_configs add column if not exists embedder_key text;
