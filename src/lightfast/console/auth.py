"""Signing in and out of the console, accepting an invitation link, and switching workspace.

The sign-in and invitation forms are posted before there is a session, so they carry a token of their
own against login CSRF (a page of another site signing the browser in as the attacker): a random value in
an HttpOnly cookie that the form must repeat (double submit). Another site can neither read the cookie nor
set it, so it cannot fill in the form's copy."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from lightfast.app.people import SignedIn
from lightfast.console.templating import render
from lightfast.console.viewer import (
    LOCAL_WORKSPACE_COOKIE,
    SESSION_COOKIE,
    CsrfRejected,
    Viewer,
    check_csrf,
    clear_session_cookie,
    cookie_secure,
    services_of,
    set_session_cookie,
    viewer,
)
from lightfast.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LightfastError,
    NotFound,
    RateLimited,
    Unauthenticated,
)

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "lf_login_csrf"
MAX_FIELD = 1024  # longer than any email, password or path we accept: refused before any work
MAX_NEXT = 2000
TOKEN_PATH = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only. Anything that could leave it (a full URL,
    ``//host``, a backslash some browsers read as a slash, control characters) becomes ``/``, so the
    login form cannot be used as an open redirect."""
    if not target or len(target) > MAX_NEXT or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _address(request: Request) -> str | None:
    return request.client.host[:64] if request.client else None


def _login_token(request: Request) -> str:
    current = request.cookies.get(LOGIN_CSRF_COOKIE)
    return current if current and 20 <= len(current) <= 64 else secrets.token_urlsafe(32)


def _with_login_token(request: Request, response: Response, token: str) -> Response:
    if request.cookies.get(LOGIN_CSRF_COOKIE) != token:
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            max_age=3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=cookie_secure(services_of(request)),
        )
    return response


async def _form(request: Request, *names: str) -> dict[str, str]:
    """The named fields of a posted form, each bounded; InvalidInput naming the field otherwise."""
    form = await request.form()
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        text = value if isinstance(value, str) else ""
        if len(text) > MAX_FIELD * (2 if name == "next" else 1):
            raise InvalidInput(f"{name} is too long", field=name)
        values[name] = text
    return values


def _check_login_token(request: Request, sent: str) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfRejected()


async def _signed_in_redirect(request: Request, signed: SignedIn, target: str) -> Response:
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # one browser, one session: the one it had before ends here
        await run_in_threadpool(services_of(request).users.logout, previous)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, services_of(request), signed.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")  # used: the next form gets a fresh one
    return response


def _login_page(
    request: Request, *, target: str, email: str = "", error: str | None = None, status_code: int = 200
) -> Response:
    token = _login_token(request)
    services = services_of(request)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        next=target,
        email=email,
        error=error,
        local_admin_available=services.settings.anonymous_allowed,
    )
    return _with_login_token(request, response, token)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    services = services_of(request)
    target = safe_next(next)
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        if await run_in_threadpool(services.users.resolve, session_token) is not None:
            return RedirectResponse(target, status_code=303)  # signed in already
        response = _login_page(request, target=target)
        clear_session_cookie(response, services)  # ended or expired: forget it
        return response
    return _login_page(request, target=target)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    try:
        fields = await _form(request, "email", "password", "next", "csrf_token")
    except InvalidInput as exc:
        return _login_page(request, target="/", error=exc.message, status_code=400)
    _check_login_token(request, fields["csrf_token"])
    target = safe_next(fields["next"])
    services = services_of(request)
    try:
        signed = await run_in_threadpool(
            lambda: services.users.login(fields["email"], fields["password"], address=_address(request))
        )
    except RateLimited as exc:
        page = _login_page(request, target=target, email=fields["email"], error=exc.message, status_code=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except LightfastError as exc:
        return _login_page(request, target=target, email=fields["email"], error=exc.message, status_code=401)
    return await _signed_in_redirect(request, signed, target)


@router.post("/logout")
async def logout(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    await check_csrf(request, who)
    services = services_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    await run_in_threadpool(lambda: services.users.logout(token, workspace_id=who.workspace_id))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, services)
    return response


def _invite_page(
    request: Request, token: str, *, error: str | None = None, status_code: int = 200, email: str = ""
) -> Response:
    services = services_of(request)
    try:
        invitation = services.users.invitation(token)
    except (NotFound, Conflict) as exc:
        status = 404 if isinstance(exc, NotFound) else 410
        return render(request, "invite.html", None, status_code=status, invalid=exc.message, invitation=None)
    organization = services.users.organization_name(invitation.organization_id)
    login_token = _login_token(request)
    response = render(
        request,
        "invite.html",
        None,
        status_code=status_code,
        invitation=invitation,
        organization=organization,
        token=token,
        login_csrf=login_token,
        error=error,
        email=email or invitation.email or "",
        invalid=None,
    )
    return _with_login_token(request, response, login_token)


@router.get("/invite/{token}", response_class=HTMLResponse)
async def invite_page(request: Request, token: TOKEN_PATH) -> Response:
    return await run_in_threadpool(_invite_page, request, token)


@router.post("/invite/{token}", response_class=HTMLResponse)
async def accept_invite(request: Request, token: TOKEN_PATH) -> Response:
    try:
        fields = await _form(request, "email", "password", "confirm", "display_name", "csrf_token")
    except InvalidInput as exc:
        message = exc.message
        return await run_in_threadpool(lambda: _invite_page(request, token, error=message, status_code=400))
    _check_login_token(request, fields["csrf_token"])
    services = services_of(request)

    def accept() -> SignedIn:
        if fields["password"] != fields["confirm"]:
            raise InvalidInput("the two passwords differ", field="confirm")
        return services.users.accept(
            token,
            email=fields["email"],
            password=fields["password"],
            display_name=fields["display_name"] or None,
            address=_address(request),
        )

    try:
        signed = await run_in_threadpool(accept)
    except LightfastError as exc:
        status = 400
        for kind, code in ((Forbidden, 403), (Conflict, 409), (Unauthenticated, 401), (NotFound, 404)):
            if isinstance(exc, kind):
                status = code
        message = exc.message
        return await run_in_threadpool(
            lambda: _invite_page(request, token, error=message, status_code=status, email=fields["email"])
        )
    return await _signed_in_redirect(request, signed, "/")


@router.post("/organization")
async def switch_organization(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    """The header's organization switcher, for a user in more than one: the session moves to the chosen
    organization's default workspace, on the Search page (another organization's page may not exist)."""
    await check_csrf(request, who)
    try:
        fields = await _form(request, "organization_id")
    except InvalidInput as exc:
        return PlainTextResponse(exc.message, status_code=400)
    if who.session_id is None:  # the local admin has one organization: the development install's
        return PlainTextResponse("the local admin has no other organization", status_code=404)
    services = services_of(request)
    try:
        await run_in_threadpool(
            services.memberships.switch_organization, who.session_id, fields["organization_id"]
        )
    except NotFound as exc:
        return PlainTextResponse(exc.message, status_code=404)
    return RedirectResponse("/", status_code=303)


@router.post("/workspace")
async def switch_workspace(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    """The header's workspace switcher: pages from now on show the chosen workspace of the organization."""
    await check_csrf(request, who)
    try:
        fields = await _form(request, "workspace_id", "next")
    except InvalidInput as exc:
        return PlainTextResponse(exc.message, status_code=400)
    services = services_of(request)
    target = safe_next(fields["next"])
    response = RedirectResponse(target, status_code=303)
    if who.session_id is not None:
        try:
            await run_in_threadpool(services.users.switch_workspace, who.session_id, fields["workspace_id"])
        except NotFound as exc:
            return PlainTextResponse(exc.message, status_code=404)
        return response
    chosen = await run_in_threadpool(
        services.users.workspace_of, who.organization_id, fields["workspace_id"] or None
    )
    secure = cookie_secure(services)
    response.set_cookie(
        LOCAL_WORKSPACE_COOKIE, chosen, path="/", httponly=True, samesite="lax", secure=secure
    )
    return response
