-- mask_pii on fixed strings: every row whose masked text differs from the expected one
-- is a failure.
with

cases as (

    select *
    from (
        values
        (
            'Пишите на ivan.petrov@mail.example или a.b@client-mail.example.',
            'Пишите на [email] или [email].'
        ),
        ('Звоните +7 (916) 123-45-67 или 8 800 555-35-35.', 'Звоните [phone] или [phone].'),
        ('Телефон 79161234567, заказ №58213.', 'Телефон [phone], заказ №58213.'),
        ('Карта 4276 1300 1234 5678 и 2200123456789010.', 'Карта [card] и [card].'),
        ('По договору № 45-12/А от 01.02.2026.', 'По договору № [contract] от 01.02.2026.'),
        ('Ключ API: sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0', 'Ключ API: [token]'),
        ('Authorization: Bearer abcdefghijklmnop1234', 'Authorization: [token]'),
        ('пароль: Qwerty123!', 'пароль: [password]'),
        ('паспорт серии 4510 номер 987321', '[passport]'),
        ('р/с 40702810900000012345', 'р/с [account]'),
        ('Версия 4.2, порт 8443, 30 минут.', 'Версия 4.2, порт 8443, 30 минут.')
    ) as examples (raw_text, expected)

),

masked as (

    select
        raw_text,
        expected,
        {{ mask_pii('raw_text') }} as actual
    from cases

)

select *
from masked
where actual is distinct from expected
