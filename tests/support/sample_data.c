/*
 * sample_data: the samples are JSON, as publishers write them with
 * mandatectl, and packed with the CLI's own converter.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "proto/pack.h"
#include "tests/support/sample_data.h"
#include "tools/json_msgpack.h"

/* 1780000000000 ms is 2026-05-28 20:26:40 UTC. */
const struct sample_data sample_data[] = {
    {"press.conference_notice",
     "{\"organiser\": \"Công ty Cổ phần Cảng Hải Phòng\", \"organiser_kind\": \"domestic\","
     " \"chair\": \"Nguyễn Văn A\", \"purpose\": \"Công bố kết quả kinh doanh\","
     " \"content\": \"Kết quả quý II\", \"start_time\": 1780300000000,"
     " \"venue\": \"8A Trần Phú, Ngô Quyền\", \"invitees\": \"Báo Hải Phòng, VTV\"}"},
    {"press.conference_notice.v2",
     "{\"organiser\": \"Embassy of Examplia\", \"organiser_kind\": \"foreign\","
     " \"chair\": \"J. Doe\", \"purpose\": \"Trade week\", \"content\": \"Programme\","
     " \"start_time\": 1780300000000, \"venue\": \"Khách sạn Melia\","
     " \"invitees\": [\"Báo Hải Phòng\", \"VTV\"]}"},
    {"press.bulletin_licence_application",
     "{\"name\": \"Bản tin Cảng\", \"purpose\": \"Thông tin nội bộ\", \"audience\": \"Cán bộ\","
     " \"language\": \"vi\", \"periodicity\": \"monthly\", \"size_cm\": \"19x27\","
     " \"pages\": 24, \"print_run\": 500, \"printer\": \"In Hải Phòng\","
     " \"responsible_person\": \"Trần B\"}"},
    {"publishing.noncommercial_permit",
     "{\"applicant\": \"Hội Văn học\", \"title\": \"Kỷ yếu 2026\", \"manuscripts\": 2}"},
    {"publishing.noncommercial_import",
     "{\"applicant\": \"Đại học Hàng hải\", \"titles\": [\"Maritime Law\"],"
     " \"id_document\": \"QĐ 12\", \"shipping_docs\": \"B/L 778\"}"},
    {"printing.licence_application",
     "{\"products\": \"bao bì\", \"business_registration\": \"0200123456\","
     " \"security_certificate\": \"ANTT-77\", \"premises\": \"KCN Đình Vũ\","
     " \"head\": \"Lê C\", \"equipment\": [\"Heidelberg SM 74\"]}"},
    {"printing.establishment_registration",
     "{\"establishment\": \"In Nhanh 24h\", \"declaration\": \"Mẫu 11\", \"change_type\": "
     "\"new\"}"},
    {"printing.color_copier_registration",
     "{\"organisation\": \"Trường THPT Ngô Quyền\", \"serial\": \"XC-99812\","
     " \"import_licence\": \"NK-2026-01\", \"invoice_or_lease\": \"HĐ 0012\"}"},
    {"publishing.book_fair_permit",
     "{\"organiser\": \"Fahasa Hải Phòng\", \"purpose\": \"Ngày sách\","
     " \"start_date\": \"2026-06-10\", \"end_date\": \"2026-06-14\","
     " \"venue\": \"Cung Văn hóa Lao động\", \"titles\": [\"Tắt đèn\", \"Số đỏ\"]}"},
    {"foreign_info.display_request",
     "{\"foreign_body\": \"Consulate of Examplia\", \"is_diplomatic_mission\": true,"
     " \"content\": \"Photo exhibition\", \"place\": \"Nhà hát Lớn\", \"period\": \"June 2026\"}"},
    {"grassroots.feedback_item",
     "{\"commune\": \"Phường Lê Lợi\", \"channel\": \"loa truyền thanh\","
     " \"content\": \"Loa hỏng\"}"},
    {"einfo.general_website_licence",
     "{\"applicant\": \"Báo điện tử Hải Cảng\", \"legal_status_doc\": \"GPKD 0200\","
     " \"plan\": \"Kế hoạch nội dung\"}"},
    {"einfo.game_point_certificate",
     "{\"business_registration\": \"HKD 12\", \"address\": \"12 Lạch Tray\","
     " \"school_distance_m\": 350, \"room_area_m2\": 60, \"fire_safety\": \"PCCC-09\","
     " \"urban_class\": \"I\"}"},
    {"ads.online_takedown",
     "{\"platform\": \"example-social\", \"ad_ref\": \"ad/8812\","
     " \"legal_basis\": \"Luật Quảng cáo Art. 8\", \"request_time\": 1780000000000}"},
    {"postal.activity_notification",
     "{\"company\": \"Giao Nhanh JSC\", \"services\": [\"parcel\"], \"scope\": \"city\"}"},
    {"postal.licence_application",
     "{\"company\": \"Bưu chính Biển\", \"services\": [\"letters\"], \"scope\": \"domestic\","
     " \"capital_vnd\": 3000000000}"},
    {"telecom.infrastructure_report",
     "{\"operator\": \"VNPT\", \"site\": \"HP-0412\", \"lat\": 20.86, \"lon\": 106.68,"
     " \"structure\": \"monopole 30 m\", \"permit_ref\": \"GPXD 77\"}"},
    {"rf.interference_report",
     "{\"reporter\": \"Đài Hải Phòng\", \"frequency_hz\": 93700000, \"location\": \"Kiến An\","
     " \"window_start\": 1779990000000, \"window_end\": 1779993600000}"},
    {"dx.edoc_received",
     "{\"from_organ_id\": \"000.00.31.H26\", \"to_organ_ids\": [\"000.00.12.H26\"],"
     " \"document_id\": \"2026-000123\", \"code_number\": \"123/UBND-VP\","
     " \"promulgation_date\": \"2026-05-27\", \"document_type\": \"Công văn\","
     " \"subject\": \"Về việc chuyển đổi số\"}"},
    {"cyber.soc_alert", "{\"format\": \"wazuh\", \"time\": 1780000000000, \"asset\": \"web-01\","
                        " \"rule\": \"5712 sshd brute force\", \"severity_raw\": 10,"
                        " \"observables\": [\"203.0.113.9\"]}"},
    {"cyber.incident_notification",
     "{\"operator\": \"Trung tâm CNTT\", \"owner\": \"Sở TT&TT\", \"system\": \"Cổng dịch vụ "
     "công\","
     " \"system_level\": 3, \"discovered_at\": 1779900000000, \"description\": \"Defacement\","
     " \"impact\": [\"service_interruption\"], \"status\": \"contained\","
     " \"actions\": \"Khôi phục từ bản sao\"}"},
    {"cyber.incident_final_report",
     "{\"incident_id\": \"INC-2026-0007\", \"completed_at\": 1779950000000,"
     " \"outcome\": \"resolved\"}"},
    {"inspection.complaint_received",
     "{\"received_at\": 1780000000000, \"complainant\": \"Phạm D\", \"address\": \"Lê Chân\","
     " \"respondent\": \"Phòng BCVT\", \"content\": \"Khiếu nại quyết định\","
     " \"request\": \"Hủy quyết định\"}"},
    {"inspection.denunciation_received",
     "{\"received_at\": 1780000000000, \"accuser\": \"Hoàng E\", \"contact\": \"0900000000\","
     " \"accused\": \"Cán bộ X\", \"violation\": \"Nhũng nhiễu\"}"},
    {"case.decision", "{\"decision\": \"granted\"}"},
    {NULL, NULL},
};

const char *
sample_data_json(const char *type)
{
    for (const struct sample_data *s = sample_data; s->type; s++)
        if (strcmp(s->type, type) == 0)
            return s->json;
    return NULL;
}

int
sample_data_pack(const char *type, const char *without_key, int64_t n, msgpack_sbuffer *out)
{
    const char *text = sample_data_json(type);
    if (!text)
        return -ENOENT;
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        return -EINVAL;
    if (without_key)
        json_object_del(j, without_key);
    if (n >= 0)
        json_object_set_new(j, "n", json_integer(n));
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    char err[128];
    int rc = json_msgpack_pack(&pk, j, JSON_MSGPACK_MAX_DEPTH, err, sizeof err);
    json_decref(j);
    return rc;
}

void
sample_notice_fields(msgpack_packer *pk)
{
    /* Short ASCII values: the benchmarks' whole envelope is 300 bytes. */
    static const char *const kv[][2] = {
        {"organiser", "So VH-TT"},  {"organiser_kind", "domestic"}, {"chair", "Nguyen A"},
        {"purpose", "lich le hoi"}, {"content", "le hoi"},          {"venue", "Nha hat"},
        {"invitees", "bao chi"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) {
        pack_cstr(pk, kv[i][0]);
        pack_cstr(pk, kv[i][1]);
    }
    pack_cstr(pk, "start_time");
    msgpack_pack_uint64(pk, 1780300000000ull);
}

void
sample_notice_pack(msgpack_packer *pk, uint32_t n, size_t pad_len)
{
    static char pad[1024];

    if (!pad[0])
        memset(pad, 'x', sizeof pad);
    if (pad_len > sizeof pad)
        pad_len = sizeof pad;
    msgpack_pack_map(pk, (uint32_t)(SAMPLE_NOTICE_FIELDS + 1 + (pad_len ? 1 : 0)));
    sample_notice_fields(pk);
    pack_cstr(pk, "n");
    msgpack_pack_fix_uint32(pk, n); /* fixed width: every event has the same size */
    if (pad_len) {
        pack_cstr(pk, "pad");
        msgpack_pack_str_with_body(pk, pad, pad_len);
    }
}
