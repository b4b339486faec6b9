"""Training for clerks: courses (text, images, a video URL) with a quiz; the first pass earns the course's points.

Marketers write courses in the back office; clerks see published ones without the answers, submit
their answers and get a score (percent of questions right). Passing credits the points once per
clerk and course: the ledger's source ``course:<course>:<user>`` makes a second pass (or two at
once) a no-op.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.accounts.models import AppUser
from app.extensions import db
from app.identity.service import Actor, apply_changes, audit
from app.platform.filters import Filters, containing
from app.retail import ledger
from app.retail.errors import AnswersInvalid, CourseInvalid, CourseNotFound
from app.retail.models import Course, CourseStatus, QuizAttempt, QuizQuestion, RewardKind

MAX_QUESTIONS = 50
MAX_OPTIONS = 10
COURSE_FIELDS = ("title", "body", "images", "video_url", "points", "pass_score", "status")


def _questions_of(course_id: int) -> list[QuizQuestion]:
    return list(db.session.scalars(sa.select(QuizQuestion).where(QuizQuestion.course_id == course_id)
                                   .order_by(QuizQuestion.position)))


@dataclass(slots=True)
class CourseView:
    course: Course
    questions: list[QuizQuestion]

    def __getattr__(self, name):  # the schema reads the course's fields straight off the view
        return getattr(self.course, name)


def _check_questions(questions: list[dict]) -> None:
    errors = {}
    if len(questions) > MAX_QUESTIONS:
        raise CourseInvalid(errors={"questions": [f"At most {MAX_QUESTIONS} questions."]})
    for i, q in enumerate(questions):
        options = q.get("options") or []
        if not 2 <= len(options) <= MAX_OPTIONS:
            errors[str(i)] = [f"A question has 2 to {MAX_OPTIONS} options."]
        elif not 0 <= q.get("answer", -1) < len(options):
            errors[str(i)] = ["answer is the index of the right option."]
    if errors:
        raise CourseInvalid(errors={"questions": errors})


def _set_questions(course: Course, questions: list[dict]) -> None:
    _check_questions(questions)
    db.session.execute(sa.delete(QuizQuestion).where(QuizQuestion.course_id == course.id))
    for position, q in enumerate(questions):
        db.session.add(QuizQuestion(course_id=course.id, position=position, question=q["question"],
                                    options=list(q["options"]), answer=q["answer"]))
    db.session.flush()


def _values(data: dict) -> dict:
    values = {k: v for k, v in data.items() if k in COURSE_FIELDS}
    if values.get("status") is not None:
        values["status"] = CourseStatus(values["status"])
    return values


def create_course(*, actor: Actor, data: dict) -> CourseView:
    data = dict(data)
    questions = data.pop("questions", [])
    _check_questions(questions)
    course = Course(**{"status": CourseStatus.DRAFT, "images": [], "body": "", "points": 0, "pass_score": 100,
                      **_values(data)})
    db.session.add(course)
    db.session.flush()
    _set_questions(course, questions)
    audit(actor, "course.create", course, {"title": [None, course.title]})
    return CourseView(course, _questions_of(course.id))


def get_course(course_id: int) -> CourseView:
    course = db.session.get(Course, course_id)
    if course is None:
        raise CourseNotFound()
    return CourseView(course, _questions_of(course.id))


def update_course(*, actor: Actor, course_id: int, changes: dict) -> CourseView:
    view = get_course(course_id)
    course = view.course
    changed = apply_changes(course, _values(changes))
    if "questions" in changes:
        _set_questions(course, changes["questions"])
        changed["questions"] = [len(view.questions), len(changes["questions"])]
    audit(actor, "course.update", course, changed)
    db.session.flush()
    return CourseView(course, _questions_of(course.id))


_COURSE_FILTERS = Filters(
    status=lambda value: Course.status == CourseStatus(value),
    q=lambda value: containing(value, Course.title),
)


def list_courses(*, status: str | None = None, q: str | None = None):
    return _COURSE_FILTERS.apply(sa.select(Course).order_by(Course.id.desc()), status=status, q=q)


def list_published():
    return list_courses(status=CourseStatus.PUBLISHED.value)


def get_published(course_id: int) -> CourseView:
    """A course a clerk may read (published), 404 otherwise."""
    view = get_course(course_id)
    if view.course.status is not CourseStatus.PUBLISHED:
        raise CourseNotFound()
    return view


@dataclass(slots=True)
class AttemptResult:
    attempt: QuizAttempt
    questions: int
    correct: int
    points_credited: int  # 0 unless this was the clerk's first pass


def submit_attempt(*, user: AppUser, course_id: int, answers: list[int]) -> AttemptResult:
    """Score a clerk's answers; the first pass credits the course's points."""
    view = get_published(course_id)
    if len(answers) != len(view.questions):
        raise AnswersInvalid(errors={"answers": [f"{len(view.questions)} answers expected."]})
    correct = sum(1 for q, a in zip(view.questions, answers) if q.answer == a)
    score = round(100 * correct / len(view.questions)) if view.questions else 100
    passed = score >= view.course.pass_score
    attempt = QuizAttempt(course_id=course_id, app_user_id=user.id, answers=list(answers), score=score,
                          passed=passed)
    db.session.add(attempt)
    db.session.flush()
    credited = 0
    if passed and view.course.points > 0:
        entry = ledger.credit_if_new(app_user_id=user.id, kind=RewardKind.POINTS, amount=view.course.points,
                                     source=f"course:{course_id}:{user.id}",
                                     note=f"Course passed: {view.course.title}")
        credited = entry.amount if entry is not None else 0
    return AttemptResult(attempt, len(view.questions), correct, credited)
