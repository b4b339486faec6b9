"""Training: courses with quizzes; clerks see no answers, a pass earns the course's points once."""
from __future__ import annotations

import pytest

from app.db import transaction
from app.errors import DomainError
from app.retail import ledger, training
from tests.masterdata_factories import ACTOR
from tests.retail_factories import make_clerk, make_shop

QUESTIONS = [
    {"question": "Serve it at?", "options": ["4°C", "20°C", "60°C"], "answer": 0},
    {"question": "Shelf life?", "options": ["6 months", "12 months"], "answer": 1},
    {"question": "Made in?", "options": ["Hangzhou", "Beijing"], "answer": 0},
    {"question": "Sugar?", "options": ["none", "some"], "answer": 0},
]


def make_course(**data):
    with transaction():
        return training.create_course(actor=ACTOR, data={
            "title": "New tea", "body": "...", "points": 50, "pass_score": 75, "status": "published",
            "questions": QUESTIONS, **data})


def attempt(user, course_id, answers):
    with transaction():
        return training.submit_attempt(user=user, course_id=course_id, answers=answers)


def test_a_quiz_is_scored_and_the_first_pass_earns_the_points_once():
    clerk = make_clerk(make_shop().store_id)
    course = make_course()

    failed = attempt(clerk, course.id, [0, 1, 1, 1])  # 2 of 4 right
    assert (failed.attempt.score, failed.attempt.passed, failed.correct, failed.points_credited) == (50, False, 2, 0)
    passed = attempt(clerk, course.id, [0, 1, 0, 1])  # 3 of 4
    assert (passed.attempt.score, passed.attempt.passed, passed.points_credited) == (75, True, 50)
    again = attempt(clerk, course.id, [0, 1, 0, 0])
    assert (again.attempt.score, again.points_credited) == (100, 0)
    assert ledger.balances(app_user_id=clerk.id)["points"] == 50


def test_each_clerk_earns_a_courses_points():
    shop = make_shop()
    first, second = shop.clerk, make_clerk(shop.store_id)
    course = make_course()
    for user in (first, second):
        assert attempt(user, course.id, [0, 1, 0, 0]).points_credited == 50
        assert ledger.balances(app_user_id=user.id)["points"] == 50


def test_answers_must_match_the_questions():
    clerk = make_clerk(make_shop().store_id)
    course = make_course()
    with pytest.raises(DomainError) as error:
        attempt(clerk, course.id, [0, 1])
    assert error.value.code == "answers_invalid"


def test_a_draft_course_is_not_found_by_clerks():
    clerk = make_clerk(make_shop().store_id)
    course = make_course(status="draft")
    with pytest.raises(DomainError) as error:
        attempt(clerk, course.id, [0, 1, 0, 0])
    assert (error.value.status, error.value.code) == (404, "course_not_found")


def test_a_question_whose_answer_is_not_an_option_is_refused():
    with pytest.raises(DomainError) as error:
        make_course(questions=[{"question": "?", "options": ["a", "b"], "answer": 2}])
    assert error.value.code == "course_invalid"


def test_updating_the_questions_replaces_the_quiz():
    course = make_course()
    with transaction():
        view = training.update_course(actor=ACTOR, course_id=course.id,
                                      changes={"questions": QUESTIONS[:2], "pass_score": 100})
    assert [q.question for q in view.questions] == ["Serve it at?", "Shelf life?"] and view.pass_score == 100
