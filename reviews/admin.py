from django.contrib import admin

from .models import (
    DuplicateLink,
    ExclusionReason,
    ImportBatch,
    Invitation,
    Membership,
    Record,
    Review,
    Search,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "created_at"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [MembershipInline]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["id", "review", "title", "year", "doi", "pmid", "duplicate_of"]
    list_select_related = ["review"]
    raw_id_fields = ["batch", "duplicate_of"]
    search_fields = ["title", "doi", "pmid"]


admin.site.register([Invitation, ExclusionReason, Search, ImportBatch, DuplicateLink])
