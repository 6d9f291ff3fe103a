-- The categories BI and dbt should read: only the active model's labels, so every
-- period is categorized by the same model version.
create or replace view kb.ticket_categories_current as
select
    c.ticket_id,
    c.category_code,
    c.confidence,
    c.method,
    c.low_confidence,
    c.taxonomy_version,
    c.model_version,
    c.categorized_at
from kb.ticket_categories as c
inner join kb.classifier_models as m
    on m.model_version = c.model_version
    and m.taxonomy_version = c.taxonomy_version
    and m.is_active;
