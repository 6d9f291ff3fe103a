"""Storage XHTML → text and documents → chunks."""

from __future__ import annotations

from assistant.knowledge.index.chunking import HARD_MAX_CHARS, KbDocument, chunk_document
from assistant.knowledge.index.storage_format import storage_to_text

STORAGE = (
    "<h1>VPN-агент</h1><p>Если клиент&nbsp;видит ошибку <strong>E42</strong>, см. "
    '<ac:link><ri:page ri:content-title="Ошибка E42 при синхронизации кассы"/></ac:link>.</p>'
    '<ac:structured-macro ac:name="info" ac:schema-version="1" ac:macro-id="3f1c">'
    '<ac:parameter ac:name="title">Перед началом</ac:parameter><ac:rich-text-body>'
    "<p>Уточните у клиента версию агента</p></ac:rich-text-body></ac:structured-macro>"
    "<h2>Перезапуск</h2>"
    '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter>'
    "<ac:plain-text-body><![CDATA[sudo systemctl restart vpn-agent\n\n"
    "journalctl -u vpn-agent | grep '<E42>']]></ac:plain-text-body></ac:structured-macro>"
    '<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Если не помогло'
    "</ac:parameter><ac:rich-text-body><ul><li>Проверьте <code>vpn-agent.conf</code></li>"
    "</ul></ac:rich-text-body></ac:structured-macro>"
    "<table><tbody><tr><th>Код</th><th>Значение</th></tr>"
    "<tr><td>E42</td><td>Нет связи с ОФД</td></tr></tbody></table>"
    '<ac:structured-macro ac:name="content-layer"><ac:parameter ac:name="id">1906792292'
    "</ac:parameter><ac:rich-text-body><p>Тело слоя</p></ac:rich-text-body>"
    "</ac:structured-macro>"
    '<ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note'
    "</ac:adf-attribute><ac:adf-content><p>Новая панель</p></ac:adf-content></ac:adf-node>"
    "<ac:adf-fallback><p>Новая панель</p></ac:adf-fallback></ac:adf-extension>"
    "<ac:task-list><ac:task><ac:task-status>complete</ac:task-status><ac:task-body>Проверено "
    '<time datetime="2024-05-14" /></ac:task-body></ac:task></ac:task-list>'
    '<ac:image><ri:attachment ri:filename="e42-screen.png"/></ac:image>'
)


def page(body: str, title: str = "Ошибка E42", doc_id: str = "confluence:884802") -> KbDocument:
    return KbDocument(
        doc_id, "confluence", title, "https://wiki.example.ru/x", body, "outages_bugs"
    )


def test_storage_keeps_code_panels_expand_tables_and_drops_parameters() -> None:
    text = storage_to_text(STORAGE)
    assert (
        "```bash\nsudo systemctl restart vpn-agent\n\njournalctl -u vpn-agent | grep '<E42>'\n```"
        in text
    )
    assert "> Информация: Перед началом\n> Уточните у клиента версию агента" in text
    assert "**Если не помогло**" in text
    assert "- Проверьте `vpn-agent.conf`" in text
    assert "| Код | Значение |\n| --- | --- |\n| E42 | Нет связи с ОФД |" in text
    assert (
        "см. Ошибка E42 при синхронизации кассы." in text
    )  # a link without a body keeps its target
    assert "1906792292" not in text
    assert "3f1c" not in text
    assert "Тело слоя" in text
    assert text.count("Новая панель") == 1  # adf-fallback is not rendered twice
    assert "- [x] Проверено 2024-05-14" in text
    assert "[изображение: e42-screen.png]" in text


def test_page_chunks_carry_title_and_breadcrumb() -> None:
    chunks = chunk_document(page(STORAGE))
    assert [c.section for c in chunks] == ["VPN-агент", "VPN-агент › Перезапуск"]
    assert chunks[1].text.startswith("Ошибка E42\nVPN-агент › Перезапуск\n\n")
    assert all(c.chunk_id.startswith("confluence:884802#") for c in chunks)
    assert [c.ordinal for c in chunks] == [0, 1]
    assert chunks[0].category_code == "outages_bugs"


def test_code_blocks_and_tables_are_never_split() -> None:
    code = "\n".join(f"echo step {i}" for i in range(150))  # ~2 KB, above the soft limit
    rows = "".join(f"<tr><td>E{i}</td><td>описание ошибки номер {i}</td></tr>" for i in range(60))
    body = (
        "<h2>Скрипт</h2><p>" + "Вводный текст. " * 40 + "</p>"
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA['
        + code
        + "]]></ac:plain-text-body></ac:structured-macro>"
        "<h2>Коды</h2><table><tbody>" + rows + "</tbody></table>"
    )
    chunks = chunk_document(page(body))
    with_code = [c for c in chunks if "echo step 0" in c.text]
    assert len(with_code) == 1
    assert "echo step 149" in with_code[0].text
    with_table = [c for c in chunks if "| E0 |" in c.text]
    assert len(with_table) == 1
    assert "| E59 |" in with_table[0].text
    assert all(len(c.text) < HARD_MAX_CHARS + 200 for c in chunks)


def test_chunk_ids_survive_an_insertion_above() -> None:
    before = chunk_document(page("<h2>Первый</h2><p>Текст один.</p><h2>Второй</h2><p>Два.</p>"))
    after = chunk_document(
        page(
            "<h2>Новый</h2><p>Вставка.</p>"
            "<h2>Первый</h2><p>Текст один.</p><h2>Второй</h2><p>Два.</p>"
        )
    )
    assert {c.chunk_id for c in before} <= {c.chunk_id for c in after}
    assert len(after) == 3


def test_ticket_gives_question_and_resolution_chunks() -> None:
    doc = KbDocument(
        "pyrus:5001",
        "pyrus",
        "Поле красное, не даёт согласовать",
        "https://pyrus.com/t#id5001",
        "Вопрос: Не нажимается «Согласовать», поле «Сумма» красное.\n"
        "Решение: Поле обязательно на этапе, заполнили сумму.",
    )
    question, resolution = chunk_document(doc)
    assert question.text.endswith("Вопрос: Не нажимается «Согласовать», поле «Сумма» красное.")
    assert "Решение" not in question.text
    assert "Вопрос: Не нажимается" in resolution.text
    assert resolution.text.endswith("Решение: Поле обязательно на этапе, заполнили сумму.")
    assert question.chunk_id != resolution.chunk_id


def test_a_ticket_from_e_mail_is_indexed_by_its_newest_messages() -> None:
    """Quoted threads, signatures and disclaimers stay out of the index (and of drafts)."""
    doc = KbDocument(
        "pyrus:5002",
        "pyrus",
        "RE: справочник",
        "",
        "Вопрос: RE: справочник\nВсё равно не загружается прайс, ошибка та же.\n\n"
        "С уважением,\nИван\n\nОт: Поддержка Pyrus <help@pyrus.com>\n"
        "Отправлено: 2 декабря 2026 г.\nТема: справочник\n\nПроверьте права на реестр.\n\n"
        "Решение: В справочнике не больше 15 000 элементов — разбейте файл.\n\n"
        "пн, 2 дек. 2026 г. в 10:15, Иван <ivan@example.ru>:\n> Наш директор требует прайс.",
    )
    question, resolution = chunk_document(doc)
    for text in (question.text, resolution.text):
        for quoted in ("Проверьте права", "С уважением", "help@pyrus.com", "директор"):
            assert quoted not in text
    assert question.text.endswith("Всё равно не загружается прайс, ошибка та же.")
    assert resolution.text.endswith(
        "Решение: В справочнике не больше 15 000 элементов — разбейте файл."
    )


def test_empty_and_plain_bodies() -> None:
    assert chunk_document(page("")) == []
    plain = chunk_document(page("Просто текст без разметки."))
    assert len(plain) == 1
    assert plain[0].text.endswith("Просто текст без разметки.")


def test_identical_sections_get_distinct_ids() -> None:
    chunks = chunk_document(page("<h2>А</h2><p>Одно.</p><h2>А</h2><p>Одно.</p>"))
    assert len({c.chunk_id for c in chunks}) == 2
