"""Chinese wording of validation problems (the designer's default language)."""

from __future__ import annotations

from typing import Any

_ZH = {
    "invalid_definition": "流程定义必须是一个 JSON 对象",
    "invalid_field": "字段 {field} 不正确：{detail}",
    "definition_too_large": "流程定义过大：{detail}",
    "invalid_text": "{where} 含有未配对的代理字符，不是有效的文本",
    "invalid_node": "节点必须是包含 id 和 type 的对象",
    "invalid_setting": "节点「{node}」的设置 {field} 不正确：{detail}",
    "duplicate_id": "节点 ID「{node}」重复使用",
    "unknown_type": "节点「{node}」的类型「{type}」不存在",
    "unknown_template": "节点「{node}」引用的节点模板不存在",
    "template_locked": "节点「{node}」修改了模板锁定的设置",
    "dangling_next": "节点「{node}」指向不存在的节点「{target}」",
    "missing_next": "节点「{node}」没有下一个节点",
    "unknown_start": "开始节点「{target}」不存在",
    "no_end": "流程没有结束节点",
    "unreachable": "节点「{node}」从开始节点无法到达",
    "loop_without_exit": "节点 {members} 构成的循环无法到达结束节点",
    "fork_without_join": "并行节点「{node}」必须指定一个汇合节点，而不是「{target}」",
    "branch_never_joins": "并行节点「{node}」的分支「{branch}」无法到达汇合节点「{target}」",
    "branch_escapes_join": "并行节点「{node}」的分支「{branch}」在汇合前就可能在「{target}」结束",
    "join_without_fork": "汇合节点「{node}」不属于任何并行节点",
    "join_shared": "汇合节点「{node}」被多个并行节点共用：{members}",
    "id_shadows_variable": "节点 ID「{node}」与流程变量同名",
    "expression_invalid": "节点「{node}」的表达式「{source}」无效：{detail}",
    "expression_unknown_variable": "节点「{node}」的表达式引用了未知变量「{name}」",
    "assignee_without_dispatch": "节点「{node}」指派给派单工程师，但流程中没有派单节点",
    "assignee_incomplete": "节点「{node}」的处理人规则缺少取值",
    "sla_incomplete": "节点「{node}」的 SLA 超时动作缺少设置",
    "recursive_subpipeline": "节点「{node}」调用了流程自身「{target}」",
    "unknown_subpipeline": "节点「{node}」调用的流程「{target}」尚未发布",
    "form_pattern_invalid": "节点「{node}」表单字段「{field}」的正则表达式无法使用：{detail}",
    "form_duplicate_field": "节点「{node}」的表单字段重复",
    "notify_no_recipient": "通知节点「{node}」没有接收人",
    "decision_has_next": "条件节点「{node}」应通过分支和默认分支流转，不能设置 next",
    "parallel_has_next": "并行节点「{node}」在汇合后继续，不能设置 next",
    "end_has_next": "结束节点「{node}」不能设置 next",
    "settlement_parts_source_invalid": (
        "节点「{node}」：「{source}」不是人工节点的备件字段（parts）"
    ),
    "unassigned_step": "节点「{node}」没有指定处理人：只有调度员、区域经理或总部管理员可以完成它",
}


def zh(code: str, **values: Any) -> str:
    """The Chinese message for a problem code, or '' when there is none."""
    template = _ZH.get(code)
    if template is None:
        return ""
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template
