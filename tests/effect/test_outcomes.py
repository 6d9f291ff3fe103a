"""Draft-vs-reply similarity and the usage classes."""

from assistant.effect.outcomes import Similarity, calibrate, normalise, similarity, usage_class

DRAFT = (
    "Здравствуйте!\nЧтобы поле стало обязательным, откройте Настройки формы → Поля, "
    "выберите поле «Сумма» и включите «Обязательное на этапе»."
)


def test_normalise_strips_greeting_signature_and_yo() -> None:
    text = "Добрый день!\nЕщё раз проверьте.\n> цитата клиента\nС уважением, Анна"
    assert normalise(text) == "еще раз проверьте."


def test_identical_texts_are_accepted() -> None:
    sim = similarity(DRAFT, DRAFT.replace("Здравствуйте!", "Добрый день!"))
    assert sim.sim_char == 1.0
    thresholds = calibrate([])
    assert usage_class(sim, thresholds, exposed=True, replied=True) == "accepted"


def test_edited_reply_keeps_most_of_the_draft() -> None:
    reply = DRAFT + " Если не поможет, пришлите скриншот настроек маршрута."
    sim = similarity(DRAFT, reply)
    assert sim.sim_char < 0.9
    assert sim.draft_retention > 0.9
    assert usage_class(sim, calibrate([]), exposed=True, replied=True) == "edited"


def test_unrelated_reply_is_ignored() -> None:
    sim = similarity(DRAFT, "Перезагрузите мобильное приложение и войдите заново.")
    assert usage_class(sim, calibrate([]), exposed=True, replied=True) == "ignored"


def test_calibration_rises_above_chance_level() -> None:
    chance = [Similarity(0.3 + i / 100, 0.45 + i / 200) for i in range(40)]
    thresholds = calibrate(chance)
    assert thresholds.edited_retention > 0.6
    assert thresholds.accepted_sim_char == 0.9


def test_not_exposed_and_no_reply() -> None:
    thresholds = calibrate([])
    assert usage_class(None, thresholds, exposed=False, replied=False) == "no_reply_yet"
    assert usage_class(None, thresholds, exposed=False, replied=True) == "not_exposed"


def test_an_outlook_reply_is_compared_without_the_customers_letter_below_it() -> None:
    """Outlook quotes without `>`: the letter under «От: … Отправлено:» is not the engineer's."""
    reply = (
        DRAFT + "\n\nС уважением,\nОльга\n\n"
        "От: Иван Петров <ivan@example.ru>\nОтправлено: 2 декабря 2026 г. 10:15\n"
        "Кому: Поддержка Pyrus\nТема: поле\n\n"
        "Добрый день! Никак не получается сделать поле обязательным, уже всё перепробовали, "
        "и в настройках смотрели, и в маршруте, помогите, пожалуйста, горит отчётность."
    )
    assert similarity(DRAFT, reply) == similarity(DRAFT, DRAFT)
    assert usage_class(similarity(DRAFT, reply), calibrate([]), exposed=True, replied=True) == (
        "accepted"
    )
