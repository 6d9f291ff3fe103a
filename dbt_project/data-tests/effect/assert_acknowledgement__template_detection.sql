-- is_acknowledgement() flags short template replies and nothing else.
with

cases as (

    select *
    from (
        values
        ('Здравствуйте! Приняли в работу, ответим в течение часа.', true),
        ('Получили ваше обращение, уже смотрим.', true),
        ('Добрый день! Спасибо, передали специалисту второй линии.', true),
        ('Откройте настройки формы и включите обязательное поле «Сумма».', false),
        (
            'Здравствуйте! Мы получили ваш скриншот: ошибка значит, что ключ API сброшен. '
            || 'Получите его заново в профиле бота, замените в интеграции и повторите '
            || 'запрос — всё заработает.',
            false
        )
    ) as v (reply_text, expected)

)

select *
from cases
where {{ is_acknowledgement('reply_text') }} is distinct from expected
