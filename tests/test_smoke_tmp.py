import asyncio
from datetime import timedelta

async def test_smoke(stack):
    c = await stack.contact()
    a = await stack.automation([
        {"id": "welcome", "type": "send_email", "subject": "Hi {{ contact.first_name }}", "body": "b"},
        {"id": "pause", "type": "wait", "duration": "P3D"},
        {"id": "followup", "type": "send_email", "subject": "Still there?", "body": "b"},
        {"id": "purchased", "type": "goal", "criteria": [{"type": "tag.added", "tag": "bought"}],
         "if_unmet": "wait", "timeout": "P30D", "on_timeout": "end"},
        {"id": "thanks", "type": "add_tag", "tag": "customer"},
    ])
    e = await stack.enroll(a, c)
    for _ in range(50):
        s = await stack.state(e)
        if s["current_step"] == "pause": break
        await asyncio.sleep(0.1)
    print(s)
    r = await stack.post(f"/contacts/{c}/tags", {"tag": "bought"})
    print(r)
    for _ in range(50):
        s = await stack.state(e)
        if s["status"] != "running": break
        await asyncio.sleep(0.1)
    print(s)
    print(await stack.get(f"/contacts/{c}/messages"))
    assert s["status"] == "completed"
