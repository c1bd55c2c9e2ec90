"""A short scenario through a client generated from meishi's served OpenAPI document.

Run by tests/openapi/run.sh against a live `meishi demo` server, with the package that
`openapi-python-client generate` made (`meishi_client`) on sys.path. Every call goes through
the generated code with `raise_on_unexpected_status=True`, so an answer whose status the
document does not list fails, and every body is parsed into the generated models, so an answer
that does not match its schema fails too.

usage: scenario.py BASE_URL ADMIN_TOKEN
"""

import io
import sys
import uuid

from meishi_client import AuthenticatedClient
from meishi_client.api.cards import cards_create, cards_list
from meishi_client.api.import_and_export import imports_import
from meishi_client.api.session import session_me
from meishi_client.api.tags import cards_attach_tag, cards_create_tag
from meishi_client.api.transfers import transfers_create
from meishi_client.api.users import users_list
from meishi_client.models import (
    Card,
    ErrorBody,
    ImportsImportFilesBody,
    NewCard,
    NewTag,
    PageCard,
    PageUser,
    SelectCards,
    Tag,
    TransferPreview,
    TransferRequest,
    User,
    UserStatus,
)
from meishi_client.types import File


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")


def main(base_url: str, token: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
    with client as c:
        # Signed in with the token: who am I.
        me = session_me.sync(client=c)
        check(isinstance(me, User) and me.role == "admin", f"the token signs in as an admin ({me.email})")

        # A card, and a shared tag on it, shown with its name.
        company = f"クライアント生成テスト {uuid.uuid4().hex[:8]}"
        card = cards_create.sync(client=c, body=NewCard(full_name="山田 花子", company=company))
        check(isinstance(card, Card) and card.owner_id == me.id and card.tags == [], "a card is created")
        tag = cards_create_tag.sync(client=c, body=NewTag(name=f"生成 {uuid.uuid4().hex[:6]}", shared=True))
        check(isinstance(tag, Tag), "a shared tag is created")
        tagged = cards_attach_tag.sync(client=c, id=card.id, tag_id=tag.id)
        check(
            isinstance(tagged, Card) and [(t.id, t.name, t.shared) for t in tagged.tags] == [(tag.id, tag.name, True)],
            "the card carries its tag with its name",
        )

        # A listing filtered by company finds exactly that card, tags included.
        page = cards_list.sync(client=c, company=company, limit=10)
        check(isinstance(page, PageCard) and [k.id for k in page.items] == [card.id], "the company filter finds it")
        check(page.items[0].tags[0].name == tag.name, "the listed card carries its tag's name")

        # A transfer dry run to another active user: what would move, nothing moved.
        users = users_list.sync(client=c, limit=100)
        check(isinstance(users, PageUser), "users are listed")
        other = next(
            u for u in users.items if u.id != me.id and u.status == UserStatus.ACTIVE and not u.is_archive
        )
        preview = transfers_create.sync(
            client=c,
            body=TransferRequest(
                from_user_id=me.id,
                to_user_id=other.id,
                selection=SelectCards(card_ids=[card.id]),
                dry_run=True,
            ),
        )
        check(
            isinstance(preview, TransferPreview) and preview.dry_run and preview.cards == 1,
            f"a transfer dry run counts 1 card to {other.email}",
        )
        still = cards_list.sync(client=c, company=company, limit=10)
        check(still.items[0].owner_id == me.id, "the dry run moved nothing")

        # An import with a bad row (all or nothing): 422 naming the file, the report in the
        # error's details with the bad line; nothing of the file is imported.
        before = cards_list.sync(client=c, q="佐藤 一郎", limit=500)
        csv = "full_name,company,email\n佐藤 一郎,サンプル商事,sato@example.jp\n鈴木 次郎,サンプル商事,not-an-address\n"
        form = ImportsImportFilesBody(
            file=File(payload=io.BytesIO(csv.encode()), file_name="cards.csv", mime_type="text/csv")
        )
        answer = imports_import.sync_detailed(client=c, body=form)
        error = answer.parsed
        check(
            answer.status_code == 422 and isinstance(error, ErrorBody) and error.error.field == "file",
            f"the import is refused whole, naming the file (status {answer.status_code})",
        )
        report = error.error.details
        check(
            isinstance(report, dict) and report["imported"] == 0 and report["error_count"] == 1,
            "its details are the import's report: 0 imported, 1 error",
        )
        check(
            [(e["line"], e["field"]) for e in report["errors"]] == [(3, "email")],
            f"the report names line 3's email: {report['errors']}",
        )
        after = cards_list.sync(client=c, q="佐藤 一郎", limit=500)
        check(len(after.items) == len(before.items), "nothing of the refused file was imported")
    print("openapi client scenario: passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
