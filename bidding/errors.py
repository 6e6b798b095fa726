"""Every refusal of the service: one root, a subclass each, with its HTTP status and code."""

from typing import Any, ClassVar


class BiddingError(Exception):
    """A refusal the caller can act on; the API renders it as application/problem+json."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    @property
    def headers(self) -> dict[str, str]:
        """Headers the response must carry (WWW-Authenticate for a 401)."""
        return {}


class NotAuthenticated(BiddingError):  # noqa: N818
    status, code, title = 401, "not_authenticated", "No valid API key"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="supplybid"'}


class Forbidden(BiddingError):  # noqa: N818
    status, code, title = 403, "forbidden", "This role may not do that"


class NotFound(BiddingError):  # noqa: N818
    status, code, title = 404, "not_found", "Not found"


class FactoryNotFound(NotFound):
    code, title = "factory_not_found", "Factory not found"


class ItemNotFound(NotFound):
    code, title = "item_not_found", "Item not found"


class RoundNotFound(NotFound):
    code, title = "round_not_found", "Round not found"


class RoundItemNotFound(NotFound):
    code, title = "round_item_not_found", "Item not in this round"


class InvitationNotFound(NotFound):
    code, title = "invitation_not_found", "Factory not invited to this round"


class BidNotFound(NotFound):
    code, title = "bid_not_found", "Bid not found"


class ApiKeyNotFound(NotFound):
    code, title = "api_key_not_found", "API key not found"


class Conflict(BiddingError):  # noqa: N818
    status, code, title = 409, "conflict", "Conflict"


class WrongRoundState(Conflict):
    """The round is not in the state the action needs; the code names the state needed."""

    code, title = "round_wrong_state", "The round is not in the right state"

    def __init__(self, state: str, detail: str | None = None) -> None:
        super().__init__(detail or f"{self.title}: it is {state}", state=state)


class RoundNotDraft(WrongRoundState):
    code, title = "round_not_draft", "The round is not in draft"


class RoundNotOpen(WrongRoundState):
    code, title = "round_not_open", "The round is not open for bids"


class RoundNotClosed(WrongRoundState):
    code, title = "round_not_closed", "The round is not closed yet: bids are sealed"


class RoundNotCancellable(WrongRoundState):
    code, title = "round_not_cancellable", "The round can no longer be cancelled"


class BidExists(Conflict):
    """A second live bid on an item: the answer names the live one (`bid`) to amend."""

    code, title = "bid_exists", "A live bid on this item exists: amend it instead"

    def __init__(self, bid_id: str, item_id: str) -> None:
        super().__init__(
            f"{self.title}: bid {bid_id} on item {item_id} (PUT or PATCH it, or withdraw it)",
            bid=bid_id,
        )


class BidWithdrawn(Conflict):
    code, title = "bid_withdrawn", "The bid is withdrawn: submit a new one"


class RoundEmpty(Conflict):
    code, title = "round_has_no_items", "Put at least one item in the round before opening it"


class FactoryNotInvited(Conflict):
    code, title = "factory_not_invited", "This round accepts bids from invited factories only"


class ItemInUse(Conflict):
    """The item is in a round past its draft: its terms are bid on, or are history."""

    code, title = "item_in_use", "The item is in a round that is no longer in draft"

    def __init__(self, rounds: dict[str, str]) -> None:
        named = ", ".join(f"{round_id} ({state})" for round_id, state in sorted(rounds.items()))
        super().__init__(f"{self.title}: {named}", rounds=named)


class IdempotencyInFlight(Conflict):
    code, title = "idempotency_in_flight", "A request with this Idempotency-Key is in progress"


class InvalidInput(BiddingError):  # noqa: N818
    """A rule that needs the database or relates fields broke; `errors` name the fields."""

    status, code, title = 422, "invalid_input", "Invalid input"

    def __init__(self, errors: list[tuple[str, str]], detail: str | None = None) -> None:
        self.errors = errors
        super().__init__(detail or "; ".join(f"{f}: {m}" for f, m in errors))


def _sheet_order(fault: tuple[str, str, int | None, str | None]) -> tuple[int, int, str]:
    # By row, then by column as the sheet shows them (B before AA); the file's own first.
    letters = (fault[3] or "").rstrip("0123456789")
    return fault[2] or 0, len(letters), letters


class BidSheetInvalid(InvalidInput):
    """A bid sheet refused whole: every fault with its sheet row and A1 cell, and the limits.

    `faults` are (field, message, row, cell); row and cell are None for the file itself.
    """

    def __init__(
        self, faults: list[tuple[str, str, int | None, str | None]], limits: dict[str, int]
    ) -> None:
        ordered = sorted(faults, key=_sheet_order)
        self.places = [(row, cell) for _, _, row, cell in ordered]
        self.limits = limits
        count = len(ordered)
        super().__init__(
            [(field, message) for field, message, _, _ in ordered],
            detail=(
                ordered[0][1]
                if count == 1
                else f"The bid sheet has {count} faults, each listed in `errors`; "
                "nothing was stored"
            ),
        )


class IdempotencyKeyReused(BiddingError):  # noqa: N818
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused with another body"


class InvalidCursor(BiddingError):  # noqa: N818
    status, code, title = 422, "invalid_cursor", "The cursor is not one this list gave"


class SnapshotInvalid(Conflict):
    code, title = "round_snapshot_invalid", "The round cannot be frozen as a valid problem"


class AllocationNotFound(NotFound):
    code, title = "allocation_not_found", "Allocation not found"


class RoundNotSolvable(WrongRoundState):
    code, title = "round_not_solvable", "Only a closed or solved round can be solved"


class RoundNotSolved(WrongRoundState):
    code, title = "round_not_solved", "Only an allocation of a solved round can be published"


class RoundNotPublished(WrongRoundState):
    code, title = "round_not_published", "The round's awards are not published yet"


class SolveInProgress(Conflict):
    code, title = "solve_in_progress", "A solve of this round is already queued or running"


class AllocationNotDone(Conflict):
    code, title = "allocation_not_done", "The allocation has no usable result yet"

    def __init__(self, status: str, detail: str | None = None) -> None:
        super().__init__(detail or f"{self.title}: it is {status}", status=status)


class AllocationsOfDifferentRounds(Conflict):
    code, title = "allocations_of_different_rounds", "Only allocations of one round compare"


class AllocationAlreadyPublished(Conflict):
    """The allocation was published already: publishing it again changes nothing."""

    code, title = "already_published", "The allocation is already published"

    def __init__(self, allocation_id: str, round_id: str) -> None:
        super().__init__(
            f"{self.title}: {allocation_id}'s awards are binding "
            f"(GET /v1/rounds/{round_id}/awards reads them)"
        )


class PublicationRefused(Conflict):
    """The allocation fails the verifier or loosens a promise; `findings` say how."""

    code, title = "publication_refused", "The allocation cannot be published"

    def __init__(self, findings: list[str]) -> None:
        self.findings = findings
        super().__init__(f"{self.title}: " + "; ".join(findings))


class RoundAlreadySettled(WrongRoundState):
    code, title = "round_already_settled", "The round is settled: send a correction instead"


class RoundNotSettled(WrongRoundState):
    code, title = "round_not_settled", "Only a settled round's settlement can be corrected"
