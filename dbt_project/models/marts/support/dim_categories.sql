with

categories as (

    select * from {{ ref('categories') }}

),

final as (

    select
        category_code,
        name_ru,
        description_ru,
        string_to_array(example_phrases, ' | ') as example_phrases,
        taxonomy_version
    from categories

)

select * from final
