"""Chinese first, English second: the page language, and labels for the registry's codes.

Templates write both texts side by side (`_("成员", "Members")`), so a page reads in
its own words without a catalogue lookup; codes (kinds, statuses) get their labels here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LANGS = ("zh", "en")
COOKIE = "lang"

LABELS: dict[str, tuple[str, str]] = {
    # The contact ledger (API.md §12).
    "within_limit": ("限额内接通", "Connected within the limit"),
    "over_limit": ("超限接通", "Connected over the limit"),
    "not_connected": ("未接通", "Not connected"),
    "sms": ("短信", "SMS"),
    "outside_window": ("时段外", "Outside the hours"),
    "ledger_chart": ("近30日每日通话", "Calls per day, last 30 days"),
    # Member kinds (API.md §4) and statuses (Article 18).
    "lender": ("贷款机构", "Lender"),
    "debt_buyer": ("债权受让机构", "Debt buyer"),
    "collection_agency": ("催收机构", "Collection agency"),
    "carrier": ("电信运营商", "Carrier"),
    "pending": ("待审核", "Pending"),
    "active": ("在册", "Active"),
    "suspended": ("暂停", "Suspended"),
    "removed": ("移出名单", "Removed"),
    # Lender and debt-buyer subtypes (Article 2).
    "commercial_bank": ("商业银行", "Commercial bank"),
    "consumer_finance_company": ("消费金融公司", "Consumer finance company"),
    "microloan_company": ("小额贷款公司", "Microloan company"),
    "auto_finance_company": ("汽车金融公司", "Auto finance company"),
    "asset_management_company": ("金融资产管理公司", "Asset management company"),
    "local_asset_management_company": ("地方资产管理公司", "Local asset management company"),
    "financial_asset_investment_company":
        ("金融资产投资公司", "Financial asset investment company"),
    "financing_guarantee_company": ("融资担保公司", "Financing guarantee company"),
    # Resources and trace reasons (API.md §6).
    "voice": ("语音号码", "Voice number"),
    "voice_block": ("号段", "Number block"),
    "sms_code": ("短信端口", "SMS port code"),
    "unregistered": ("未登记", "Not registered"),
    "expired": ("已过期", "Expired"),
    "supplier_inactive": ("供应方不在册", "Supplier not active"),
    "unconfirmed": ("使用方未确认", "Not confirmed by its user"),
    "user_inactive": ("使用方不在册", "User not active"),
    "no_principal": ("无委托方", "No principal"),
    "traceable": ("可追溯", "Traceable"),
    "not_traceable": ("不可追溯", "Not traceable"),
    # Collector filings, black-market groups, risk events (API.md §7).
    "submitted": ("待审核", "Awaiting review"),
    "published": ("已发布", "Published"),
    "rejected": ("已驳回", "Rejected"),
    "revoked": ("已撤销", "Revoked"),
    "violence": ("暴力、威胁或恐吓", "Violence or threats"),
    "third_party_contact": ("骚扰无关第三方", "Contacting third parties"),
    "false_identity": ("隐瞒或冒用身份", "False identity"),
    "false_consequences": ("夸大或虚构后果", "Invented consequences"),
    "illegal_fees": ("违规收费或私收款项", "Illegal fees or channels"),
    "privacy_breach": ("泄露或滥用个人信息", "Personal data misuse"),
    "harassment": ("违规时段或频次催收", "Harassment"),
    "other": ("其他", "Other"),
    "regulatory_action": ("被监管调查或处罚", "Regulatory action"),
    "violent_collection": ("暴力催收", "Violent collection"),
    "personal_data_breach": ("个人信息泄露", "Personal data breach"),
    "black_market_interference": ("黑产干扰", "Black-market interference"),
    "anti_collection_alliance": ("反催收联盟", "Anti-collection alliance"),
    "fake_debt_relief": ("虚假债务优化", "Fake debt relief"),
    "complaint_mill": ("恶意投诉代理", "Complaint mill"),
    "phone": ("电话", "Phone"),
    "wechat": ("微信", "WeChat"),
    "qq": ("QQ", "QQ"),
    "domain": ("域名", "Domain"),
    "url": ("网址", "URL"),
    "app": ("应用", "App"),
    "payment_account": ("收款账户", "Payment account"),
    "text_fingerprint": ("话术指纹", "Text fingerprint"),
    "collector_filings": ("催收员报送", "Collector filings"),
    "risk_events": ("风险事件", "Risk events"),
    "late": ("逾期", "Late"),
    "on_time": ("按时", "On time"),
    "green": ("TLP:GREEN", "TLP:GREEN"),
    "amber": ("TLP:AMBER", "TLP:AMBER"),
    "red": ("TLP:RED", "TLP:RED"),
    # Complaints (API.md §13).
    "time": ("违规时段催收", "Outside permitted hours"),
    "frequency": ("频繁催收", "Too frequent"),
    "abuse": ("辱骂、威胁", "Abuse or threats"),
    "third_party": ("骚扰第三人", "Third parties contacted"),
    "impersonation": ("冒充身份", "Impersonation"),
    # Complaints and rectifications alike: not yet closed.
    "open": ("未结", "Open"),
    "resolved": ("已解决", "Resolved"),
    "forwarded": ("已转办", "Forwarded"),
    # Where a complaint came from, and whom it was routed to (API.md §13).
    "public": ("公众", "Public"),
    "operator": ("协会工作人员", "Association staff"),
    "user": ("号码使用方", "Number user"),
    "principal": ("委托方", "Principal"),
    "operators": ("协会", "The association"),
    # Collector filings' identity documents (API.md §7).
    "prc_id": ("居民身份证", "PRC resident identity card"),
    # Console audit actions.
    "sign_in": ("登录", "Signed in"),
    "sign_in_failed": ("登录失败", "Sign-in failed"),
    "sign_out": ("退出", "Signed out"),
    "member_status": ("变更成员状态", "Changed member status"),
    "filing_publish": ("发布催收员报送", "Published a collector filing"),
    "filing_reject": ("驳回催收员报送", "Rejected a collector filing"),
    "filing_revoke": ("撤销催收员报送", "Revoked a collector filing"),
    "peer_resume": ("恢复同步", "Resumed a peer"),
    # Agency supervision (Articles 17, 18, 24) and disclosures (Articles 13, 23).
    "member_disclosure": ("更新公示信息", "Updated a disclosure"),
    "no_commitments": ("未签承诺", "No commitments"),
    "evaluation_overdue": ("评估逾期", "Evaluation overdue"),
    "rectification_overdue": ("整改逾期", "Rectification overdue"),
    "rectification_open": ("整改中", "Rectifying"),
    "agency_not_active": ("机构已暂停或移出", "Agency not active"),
    "entrustment_ended": ("已终止", "Ended"),
    "no_subcontracting": ("不转委托", "No subcontracting"),
    "confidentiality": ("信息保密", "Confidentiality"),
    "accept_supervision": ("接受委托方监督", "Accepts the lender's supervision"),
    "accept_regulators": ("接受监管检查", "Accepts the regulators' checks"),
    "suspected_violation": ("涉嫌违规", "Suspected violation"),
    "personal_data_incident": ("个人信息事件", "Personal data incident"),
    "consumer_harm": ("损害消费者权益", "Consumer harm"),
    "closed": ("已结束", "Closed"),
    "rectified": ("已整改", "Rectified"),
    "failed": ("整改失败", "Failed"),
    "incomplete": ("要素不全", "Incomplete"),
    "compliance": ("合规", "Compliance"),
    "effectiveness": ("成效", "Effectiveness"),
    "data_security": ("信息安全", "Data security"),
    "records": ("记录留存", "Records"),
    "complaints": ("投诉处理", "Complaints"),
    "member_add": ("新增成员", "Added a member"),
    "staff_role": ("变更工作人员角色", "Changed a staff role"),
    "staff_disable": ("停用工作人员", "Disabled a staff member"),
    "staff_enable": ("启用工作人员", "Enabled a staff member"),
    "staff_password": ("重置工作人员密码", "Reset a staff password"),
    "staff_totp": ("重置工作人员动态口令", "Reset a staff authenticator"),
    "audit_export": ("导出操作记录", "Exported the audit trail"),
    # Reasons the registry writes itself into histories (registry/*/store.py).
    "application recorded": ("申请已登记", "application recorded"),
    "filed": ("已报送", "filed"),
    # Audit details: the keys, and why a sign-in failed (registry/console/credentials.py).
    "client": ("客户端地址", "client"),
    "why": ("原因", "why"),
    "from": ("原状态", "from"),
    "to": ("新状态", "to"),
    "reason": ("理由", "reason"),
    "decision": ("决定", "decision"),
    "role": ("角色", "role"),
    "kind": ("类型", "kind"),
    "name": ("名称", "name"),
    "unknown login": ("账号不存在", "unknown login"),
    "locked": ("账号已锁定", "locked"),
    "wrong password": ("密码错误", "wrong password"),
    "wrong code": ("验证码错误", "wrong code"),
    "code replayed": ("验证码已用过", "code replayed"),
    "no second factor enrolled": ("未设置动态口令", "no second factor enrolled"),
    "no console key": ("缺少控制台密钥", "no console key"),
    "disabled": ("账号已停用", "disabled"),
    "publish": ("发布", "publish"),
    "reject": ("驳回", "reject"),
    # Staff roles (registry/console/staff.py).
    "administrator": ("管理员", "Administrator"),
    "reviewer": ("审核员", "Reviewer"),
}

# Form fields as a Chinese page names them, for the errors the registry reports in English.
FIELD_NAMES: dict[str, str] = {
    "kind": "类型", "subtype": "机构类别", "name": "机构名称", "uscc": "统一社会信用代码",
    "contact": "联系方式", "complaints": "投诉渠道", "keys": "签名公钥", "body": "表单",
    "reason": "原因", "status": "状态", "password": "密码",
}
# The registry's validation messages, in Chinese; others fall back to a generic sentence.
MESSAGES: dict[str, str] = {
    "check digit mismatch": "校验位不符",
    "must be 18 characters": "应为 18 位",
    "choose a kind": "请选择类型",
    "a private key was given; give the public key only": "这是私钥，请只提交公钥",
    "a private key was sent; send the public key only": "这是私钥，请只提交公钥",
    "neither a JWK nor a PEM public key": "既不是 JWK 也不是 PEM 公钥",
    "not a PEM public key": "不是有效的 PEM 公钥",
    "only Ed25519 and P-256 keys are accepted": "只接受 Ed25519 或 P-256 公钥",
}
# Problem answers by status, for error pages in Chinese (the English page shows the detail).
STATUS_MESSAGES: dict[int, str] = {
    400: "请求无效。", 401: "需要登录。", 403: "没有权限执行此操作。", 404: "未找到该记录。",
    409: "当前状态不允许此操作。", 413: "提交的内容过大。", 422: "填写的内容有误。",
    429: "请求过于频繁，请稍后再试。", 500: "系统出错，已记录，请稍后再试。",
    503: "服务暂时不可用，请稍后再试。",
}


def pick_lang(query: str | None, cookie: str | None) -> str:
    for choice in (query, cookie):
        if choice in LANGS:
            return choice
    return LANGS[0]


def translator(lang: str) -> Callable[[str, str], str]:
    def translate(zh: str, en: str) -> str:
        return zh if lang == "zh" else en

    return translate


def field_error(lang: str) -> Callable[[str, str], str]:
    """`field: message` in the page's language."""

    def say(field: str, message: str) -> str:
        if lang != "zh":
            return f"{field}: {message}"
        top = field.split(".")[0]
        return f"{FIELD_NAMES.get(top, '此项')}：{MESSAGES.get(message, '填写有误，请检查')}"

    return say


def problem_message(lang: str, status: int, detail: str) -> str:
    """What an error page says: in Chinese by status (details are English), else the detail."""
    if lang != "zh":
        return detail
    return STATUS_MESSAGES.get(status, "操作未完成。")


def labeller(lang: str) -> Callable[[Any], str]:
    index = LANGS.index(lang)

    def label(code: Any) -> str:
        if code is None:
            return "—"
        pair = LABELS.get(str(code))
        return pair[index] if pair else str(code)

    return label
