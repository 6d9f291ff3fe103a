"""The fake LLM speaks the OpenAI wire format to the real openai client."""

import openai
import pytest

from tests.fakes.llm_server import FakeLLM, ScriptedReply


def test_chat_and_embeddings_through_the_openai_client(fake_llm: FakeLLM) -> None:
    fake_llm.script('{"ok": true}', ScriptedReply(status=500))
    client = openai.OpenAI(base_url=fake_llm.base_url, api_key="sk-test", max_retries=0)
    reply = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "привет"}]
    )
    assert reply.choices[0].message.content == '{"ok": true}'
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    vectors = client.embeddings.create(model="e", input=["кошка", "кошка", "собака"]).data
    assert vectors[0].embedding == vectors[1].embedding != vectors[2].embedding
    assert [r["path"] for r in fake_llm.requests].count("/v1/chat/completions") == 2
