"""OrderConfirmationTemplate: the SES template it synthesizes and the synth-time check of its variables."""

import pytest
from aws_cdk import App, CfnParameter, Stack
from aws_cdk.assertions import Match, Template

from lambda_handlers.contracts import DEFAULT_SUBJECT
from notification_constructs import NotificationConfigError, OrderConfirmationTemplate


@pytest.fixture(scope="module")
def built() -> tuple[OrderConfirmationTemplate, OrderConfirmationTemplate, Template]:
    stack = Stack(App(), "Templates")
    default = OrderConfirmationTemplate(stack, "Standard")
    custom = OrderConfirmationTemplate(
        stack,
        "Custom",
        template_name="order-confirmation",
        subject="Thanks, {{customer_name}}!",
        html="<p>Order {{html.order_id}}: {{#each html.items}}{{name}} {{/each}}{{html.total}}</p>",
        text="Order {{order_id}}: {{#each items}}{{quantity}} x {{name}} {{/each}}{{total}} {{currency}}",
    )
    return default, custom, Template.from_stack(stack)


def test_default_template_has_subject_html_and_text_parts_and_a_generated_name(
    built: tuple[OrderConfirmationTemplate, OrderConfirmationTemplate, Template],
) -> None:
    _, _, template = built
    template.resource_count_is("AWS::SES::Template", 2)
    template.has_resource_properties(
        "AWS::SES::Template",
        {
            "Template": {
                "SubjectPart": DEFAULT_SUBJECT,
                "HtmlPart": Match.string_like_regexp(r"\{\{#each html\.items\}\}"),
                "TextPart": Match.string_like_regexp(r"\{\{#each items\}\}"),
                "TemplateName": Match.absent(),
            }
        },
    )


def test_default_html_part_only_inserts_escaped_values(
    built: tuple[OrderConfirmationTemplate, OrderConfirmationTemplate, Template],
) -> None:
    _, _, template = built
    default = next(
        r for k, r in template.find_resources("AWS::SES::Template").items() if k.startswith("Standard")
    )
    html = default["Properties"]["Template"]["HtmlPart"]
    assert "{{html.customer_name}}" in html
    assert "{{customer_name}}" not in html


def test_custom_parts_and_name_are_synthesized_as_given(
    built: tuple[OrderConfirmationTemplate, OrderConfirmationTemplate, Template],
) -> None:
    _, custom, template = built
    template.has_resource_properties(
        "AWS::SES::Template",
        {
            "Template": {
                "TemplateName": "order-confirmation",
                "SubjectPart": "Thanks, {{customer_name}}!",
                "HtmlPart": Match.string_like_regexp(r"\{\{html\.order_id\}\}"),
                "TextPart": Match.string_like_regexp(r"\{\{currency\}\}"),
            }
        },
    )
    # template_name is the template's Ref (what the sender's environment and IAM grant use)
    logical_id = next(k for k in template.find_resources("AWS::SES::Template") if k.startswith("Custom"))
    assert Stack.of(custom).resolve(custom.template_name) == {"Ref": logical_id}


def test_template_name_may_be_a_token() -> None:
    # GIVEN a name known only at deploy time   WHEN the template is built   THEN it is passed through
    stack = Stack(App(), "Token")
    name = CfnParameter(stack, "TemplateName").value_as_string
    OrderConfirmationTemplate(stack, "Template", template_name=name)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SES::Template", {"Template": {"TemplateName": {"Ref": "TemplateName"}}}
    )


def test_fails_if_the_html_part_inserts_a_value_without_escaping() -> None:
    stack = Stack(App(), "Unescaped")
    with pytest.raises(
        NotificationConfigError,
        match=r"\[Unescaped/Template\] html inserts \['customer_name'\] without HTML escaping.*"
        r"\{\{html\.<name>\}\}",
    ):
        OrderConfirmationTemplate(stack, "Template", html="<p>Hello {{customer_name}}</p>")


def test_fails_if_a_part_uses_a_variable_the_sender_does_not_send() -> None:
    stack = Stack(App(), "Unknown")
    with pytest.raises(NotificationConfigError) as error:
        OrderConfirmationTemplate(
            stack, "Template", text="Use code {{coupon}} on {{#each items}}{{colour}}{{/each}}"
        )
    [problem] = error.value.problems
    assert problem.startswith("[Unknown/Template] text uses ['colour', 'coupon']")
    assert "which the order e-mail sender does not send" in problem
    assert "available: ['currency', 'customer_name', 'order_id', 'placed_at', 'total']" in problem


def test_fails_if_each_iterates_over_a_list_the_sender_does_not_send() -> None:
    stack = Stack(App(), "Each")
    with pytest.raises(NotificationConfigError, match=r"html uses \['#each html\.lines'\]"):
        OrderConfirmationTemplate(stack, "Template", html="{{#each html.lines}}{{name}}{{/each}}")


def test_fails_listing_every_problem_at_once() -> None:
    stack = Stack(App(), "Bad")
    with pytest.raises(NotificationConfigError) as error:
        OrderConfirmationTemplate(
            stack, "Template", template_name="has spaces", subject=" ", html="{{customer_name}}"
        )
    text = "\n".join(error.value.problems)
    assert len(error.value.problems) == 3
    for expected in ("template_name 'has spaces'", "subject: must not be empty", "without HTML escaping"):
        assert expected in text
